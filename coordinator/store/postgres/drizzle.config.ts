import { defineConfig } from 'drizzle-kit'

export default defineConfig({
  dialect: 'postgresql',
  schema: './coordinator/store/postgres/schema.ts',
  out: './coordinator/store/postgres/migrations',
})
