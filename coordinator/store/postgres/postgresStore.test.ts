import { describeStore } from '../store.suite.ts'
import { openPostgresStore } from './postgresStore.ts'
import { scratchDatabases } from '../../../test/harness/postgres.ts'

const scratchDatabase = scratchDatabases()

describeStore('postgres', async () => openPostgresStore(await scratchDatabase()))
