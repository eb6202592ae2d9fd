/*
 * Jump consistent hash test vectors: the C++ listing of Lamping and Veach, "A Fast, Minimal Memory,
 * Consistent Hash Algorithm" (2014), copied literally, run on 12,000 (key, buckets) pairs.
 *
 *   c++ -O2 -o generate generate.cc && ./generate > jump.txt
 *
 * Each output line is `key buckets bucket` in decimal: keys 0 to 39 over 1 to 100 buckets, the
 * edges of the 64-bit range over powers of two and their neighbours up to 2^31 - 1 buckets, and
 * splitmix64 keys over bucket counts spread up to 1,000, 100,000 and the whole int32 range.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

/* The paper's listing, unchanged. */
int32_t JumpConsistentHash(uint64_t key, int32_t num_buckets) {
  int64_t b = -1, j = 0;
  while (j < num_buckets) {
    b = j;
    key = key * 2862933555777941757ULL + 1;
    j = (b + 1) * (double(1LL << 31) / double((key >> 33) + 1));
  }
  return b;
}

static uint64_t state = 0x6a756d702d766563ULL; /* "jump-vec" */

static uint64_t splitmix64(void) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void line(uint64_t key, int32_t buckets) {
  printf("%" PRIu64 " %" PRId32 " %" PRId32 "\n", key, buckets, JumpConsistentHash(key, buckets));
}

int main(void) {
  int count = 0;
  /* Small keys over small bucket counts: 4,000 lines. */
  for (uint64_t key = 0; key < 40; key++)
    for (int32_t buckets = 1; buckets <= 100; buckets++, count++) line(key, buckets);
  /* Edge keys over powers of two and their neighbours up to 2^31 - 1: 8 x 92 = 736 lines. */
  const uint64_t edges[] = {0, 1, 2, UINT64_MAX, UINT64_MAX - 1, 1ULL << 63, (1ULL << 63) - 1,
                            0x9e3779b97f4a7c15ULL};
  for (int e = 0; e < 8; e++)
    for (int shift = 0; shift <= 30; shift++)
      for (int32_t d = -1; d <= 1; d++) {
        int64_t buckets = (1LL << shift) + d;
        if (buckets < 1 || buckets > INT32_MAX) continue;
        line(edges[e], (int32_t)buckets);
        count++;
      }
  /* Random keys over random bucket counts, small and large, to 12,000 lines in all. */
  while (count < 12000) {
    uint64_t key = splitmix64();
    uint64_t r = splitmix64();
    int32_t buckets;
    switch (r % 3) {
      case 0: buckets = (int32_t)(1 + (r >> 8) % 1000); break;
      case 1: buckets = (int32_t)(1 + (r >> 8) % 100000); break;
      default: buckets = (int32_t)(1 + (r >> 8) % INT32_MAX); break;
    }
    line(key, buckets);
    count++;
  }
  return 0;
}
