// pg-boss on the same PostgreSQL as trawl (bench/bench_pg.sh): N no-op jobs inserted, then run by
// W workers (each a pg-boss work() loop fetching batches) until pg-boss has completed them all.
// Prints one line: pgboss_end_to_end jobs=N workers=W batch=B seconds=S jobs_per_s=R
// usage: node bench_pgboss.mjs SOCKET_DIR PORT DATABASE USER [--jobs N] [--workers W] [--batch B]
import PgBoss from 'pg-boss';

const [host, port, database, user, ...rest] = process.argv.slice(2);
const opt = (name, def) => {
    const i = rest.indexOf(name);
    return i >= 0 ? Number(rest[i + 1]) : def;
};
const jobs = opt('--jobs', 100000);
const workers = opt('--workers', 2);
const batch = opt('--batch', 100);

const boss = new PgBoss({host, port: Number(port), database, user, max: workers + 4,
                         supervise: false, schedule: false});
boss.on('error', (e) => console.error('pg-boss:', e.message));
await boss.start();
await boss.createQueue('noop');
for (let done = 0; done < jobs; done += 1000) {
    const chunk = [];
    for (let i = done; i < Math.min(jobs, done + 1000); i++)
        chunk.push({name: 'noop', data: {}});
    await boss.insert(chunk);
}
const t0 = process.hrtime.bigint();
let handled = 0;
let finish;
const all = new Promise((resolve) => { finish = resolve; });
for (let w = 0; w < workers; w++) {
    await boss.work('noop', {batchSize: batch, pollingIntervalSeconds: 0.5}, async (js) => {
        handled += js.length;
    });
}
// done when pg-boss itself says every job is completed (the completions are its own writes);
// counted only once the handlers have seen them all, so no count(*) of the table competes with
// the workers for the machine's two cores while they run
const db = boss.getDb();
while (handled < jobs)
    await new Promise((res) => setTimeout(res, 5));
for (;;) {
    const r = await db.executeSql(
        "SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'noop' AND state = 'completed'");
    if (r.rows[0].n >= jobs) break;
    await new Promise((res) => setTimeout(res, 20));
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`pgboss_end_to_end jobs=${jobs} workers=${workers} batch=${batch} ` +
            `seconds=${secs.toFixed(3)} jobs_per_s=${Math.round(jobs / secs)} handled=${handled}`);
await boss.stop({graceful: false, wait: false});
process.exit(0);
