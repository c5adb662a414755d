/**
 * A tagged template for server-rendered HTML that escapes every interpolated
 * value unless it is already markup (another `html` result or `raw()`).
 */
export class Markup {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' }

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (c) => ESCAPES[c]!)
}

type Value = Markup | string | number | bigint | boolean | null | undefined | readonly Value[]

function render(v: Value): string {
  if (v === null || v === undefined || v === false) return ''
  if (v instanceof Markup) return v.text
  if (Array.isArray(v)) return v.map(render).join('')
  return escapeHtml(v)
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Markup {
  let out = strings[0]!
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!
  return new Markup(out)
}

/** Trusted markup, inserted as is. Never pass request data here. */
export function raw(text: string): Markup {
  return new Markup(text)
}
