/**
 * A process's CPU time from `/proc` (Linux), for the benches that measure other processes.
 *
 * @module
 */

/**
 * User + system CPU time `pid` has used so far, in milliseconds.
 *
 * @param pid A process id, or `"self"`.
 * @returns Milliseconds; throws where `/proc` has no such process.
 */
export function cpuMs(pid: number | "self"): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name, which is in parentheses and may hold spaces: utime and stime
  // are the 12th and 13th, in clock ticks (USER_HZ is 100 on Linux).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
