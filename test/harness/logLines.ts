/** Checks on JSON log lines as log tools read them: a key written twice is ambiguous (tools disagree on which wins). */

/** The top-level keys of one JSON log line in the order written, duplicates kept (JSON.parse would hide them). */
export function topLevelKeys(line: string): string[] {
  const keys: string[] = []
  let depth = 0
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]
    if (ch === '"') {
      let j = i + 1
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1
      if (depth === 1 && line[j + 1] === ':') keys.push(JSON.parse(line.slice(i, j + 1)) as string)
      i = j
    } else if (ch === '{' || ch === '[') depth++
    else if (ch === '}' || ch === ']') depth--
  }
  return keys
}

/** The keys a line writes more than once. */
export function duplicateKeys(line: string): string[] {
  const keys = topLevelKeys(line)
  return keys.filter((k, i) => keys.indexOf(k) !== i)
}
