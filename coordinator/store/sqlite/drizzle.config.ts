import { defineConfig } from 'drizzle-kit'

export default defineConfig({
  dialect: 'sqlite',
  schema: './coordinator/store/sqlite/schema.ts',
  out: './coordinator/store/sqlite/migrations',
})
