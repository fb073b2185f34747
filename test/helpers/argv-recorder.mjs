// Stands in for the CLI that `serve` spawns in the executor test: records its argv and exits 0.
import { writeFileSync } from 'node:fs';
writeFileSync(process.env.SD_ARGV_FILE, JSON.stringify(process.argv.slice(2)));
