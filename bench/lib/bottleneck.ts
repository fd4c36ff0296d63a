import type { Implementation } from '../servers/server.js';

/**
 * In a throughput scenario the server should be what is busy: say so when the load generator (one
 * process, one core) was saturated and the server was not, or when neither was (something else is
 * using the cores). Both in cores, over the measured period.
 */
export function checkBottleneck(name: string, implementation: Implementation, generatorCpu: number, serverCpu: number | undefined): void {
  const percent = (cores: number | undefined): string => (cores === undefined ? 'unknown' : `${(cores * 100).toFixed(0)}%`);
  const busy = `the load generator was busy ${percent(generatorCpu)} of the time, the server ${percent(serverCpu)}`;
  if (generatorCpu > 0.9 && (serverCpu === undefined || serverCpu < 0.9)) {
    process.stderr.write(`  ${name} (${implementation}): ${busy}: the generator may be the bottleneck\n`);
  } else if (serverCpu !== undefined && serverCpu < 0.7 && generatorCpu < 0.7) {
    process.stderr.write(`  ${name} (${implementation}): ${busy}: is another process using the cores?\n`);
  }
}
