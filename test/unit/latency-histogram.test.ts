/**
 * src/latency-histogram.ts: the fixed log-2 buckets of the push-to-write latency, written by a
 * worker into its own status words and read by anyone from the shared buffer.
 */
import assert from 'node:assert/strict';
import {
  bucketUpperSeconds,
  LATENCY_BUCKETS,
  latencyBucket,
  latencyQuantileUs,
  latencySince,
  LatencyRecorder,
  readLatency,
  sumLatency,
} from '../../src/latency-histogram.js';
import { STATUS_WORDS } from '../../src/layout.js';

describe('unit: latency histogram', () => {
  it('puts a latency in the first bucket whose upper bound (8 µs · 2^i) holds it; past 8.4 s in +Inf', () => {
    const cases: Array<[number, number]> = [[-5, 0], [0, 0], [8, 0], [8.5, 1], [16, 1], [17, 2], [1000, 7], [1024, 7], [1025, 8], [2 ** 23, LATENCY_BUCKETS - 2], [2 ** 23 + 1, LATENCY_BUCKETS - 1], [1e12, LATENCY_BUCKETS - 1], [NaN, 0]];
    for (const [us, bucket] of cases) assert.equal(latencyBucket(us), bucket, `${us} µs`);
    for (let i = 0; i < LATENCY_BUCKETS - 1; i++) assert.equal(latencyBucket(bucketUpperSeconds(i) * 1e6), i, `bound of bucket ${i} is inside it`);
    assert.equal(bucketUpperSeconds(LATENCY_BUCKETS - 1), Infinity);
  });

  it('a worker writes only its own words; readers see counts, the sum (past 2^32 µs too) and what changed since', () => {
    const words = new Int32Array(new SharedArrayBuffer(3 * STATUS_WORDS * 4));
    const w1 = new LatencyRecorder(words, 1);
    w1.record(100, 3);
    w1.record(3000);
    assert.deepEqual(readLatency(words, 0).buckets, new Array(LATENCY_BUCKETS).fill(0), 'worker 0 untouched');
    const first = readLatency(words, 1);
    assert.equal(first.buckets[latencyBucket(100)], 3);
    assert.equal(first.buckets[latencyBucket(3000)], 1);
    assert.equal(first.sumUs, 3300);
    w1.record(4e9, 2); // 8e9 µs: past one 32-bit word
    const second = readLatency(words, 1);
    assert.equal(second.sumUs, 3300 + 8e9);
    const since = latencySince(second, first);
    assert.equal(since.buckets.reduce((a, b) => a + b, 0), 2);
    assert.equal(since.buckets[LATENCY_BUCKETS - 1], 2);
    assert.equal(since.sumUs, 8e9);
    assert.deepEqual(sumLatency([first, second]).buckets[latencyBucket(100)], 6);
  });

  it('p50 and p99 come from the buckets, interpolated inside one; none without a count', () => {
    const buckets = new Array<number>(LATENCY_BUCKETS).fill(0);
    assert.equal(latencyQuantileUs({ buckets, sumUs: 0 }, 0.5), null);
    buckets[latencyBucket(100)] = 98; // (64, 128] µs
    buckets[latencyBucket(5000)] = 2; // (4096, 8192] µs
    const h = { buckets, sumUs: 0 };
    const p50 = latencyQuantileUs(h, 0.5)!;
    assert.ok(p50 > 64 && p50 <= 128, `p50 ${p50}`);
    const p99 = latencyQuantileUs(h, 0.99)!;
    assert.ok(p99 > 4096 && p99 <= 8192, `p99 ${p99}`);
  });
});
