// Percentiles from cumulative histogram buckets, the way Prometheus's histogram_quantile() computes them.

/**
 * The `q` quantile (0..1) of a histogram with ascending upper `bounds` (the last may be +Inf) and cumulative
 * `counts`: linear interpolation inside the bucket that holds the rank, the highest finite bound when the rank lands
 * in +Inf, undefined without observations.
 */
export function histogramQuantile(q: number, bounds: readonly number[], counts: readonly number[]): number | undefined {
  const total = counts[counts.length - 1] ?? 0;
  if (total <= 0 || bounds.length === 0) return undefined;
  const rank = q * total;
  let i = 0;
  while (i < counts.length - 1 && counts[i]! < rank) i += 1;
  const upper = bounds[i]!;
  const lower = i === 0 ? 0 : bounds[i - 1]!;
  if (upper === Infinity) return lower;
  const before = i === 0 ? 0 : counts[i - 1]!;
  const inBucket = counts[i]! - before;
  if (inBucket <= 0) return upper;
  return lower + (upper - lower) * ((rank - before) / inBucket);
}
