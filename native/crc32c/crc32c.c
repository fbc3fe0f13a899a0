// CRC32C (Castagnoli) with the SSE4.2 crc32 instruction, three streams at a time.
//
// One crc32 instruction has a latency of 3 cycles but a throughput of one per cycle, so a single
// dependency chain runs at a third of the unit's speed. Long inputs are cut into three adjacent blocks
// whose CRCs are computed in interleaved chains, then joined: the register after block A, carried over
// B's length of zero bytes, XOR B's own CRC (the CRC register update is linear over GF(2)), and so on.
// Carrying a register over n zero bytes is a fixed linear map, applied with four 256-entry tables.
//
// Exported to JavaScript as crc32c(buf, initial) -> uint32 (same contract as src/iscsi/crc32c.ts).
// Built only where the instruction set exists; the loader falls back to other implementations.
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__SSE4_2__)
#include <nmmintrin.h>
#define HAVE_HW 1
#else
#define HAVE_HW 0
#endif

#if HAVE_HW
// Block lengths of the three-stream loops (bytes per stream), longest first.
#define LONG_BLOCK 1024
#define SHORT_BLOCK 128

static uint32_t zeros_long[4][256];
static uint32_t zeros_short[4][256];

// Carry a reflected CRC32C register over n zero bytes, one bit at a time (table set-up only).
static uint32_t carry_over_zeros_slow(uint32_t crc, size_t n) {
  for (size_t i = 0; i < n * 8; i++) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
  return crc;
}

// table[k][b] = the register b << 8k carried over n zero bytes; built from the 32 single-bit images.
static void build_zeros_table(uint32_t table[4][256], size_t n) {
  uint32_t bit_image[32];
  for (int i = 0; i < 32; i++) bit_image[i] = carry_over_zeros_slow(1u << i, n);
  for (int k = 0; k < 4; k++) {
    for (int b = 0; b < 256; b++) {
      uint32_t v = 0;
      for (int i = 0; i < 8; i++)
        if (b & (1 << i)) v ^= bit_image[8 * k + i];
      table[k][b] = v;
    }
  }
}

static inline uint32_t carry(const uint32_t table[4][256], uint32_t crc) {
  return table[0][crc & 0xff] ^ table[1][(crc >> 8) & 0xff] ^ table[2][(crc >> 16) & 0xff] ^
         table[3][crc >> 24];
}

static inline uint64_t load64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

// Three interleaved chains over 3 * block bytes, joined into `crc`.
static inline uint32_t three_blocks(uint32_t crc, const uint8_t *p, size_t block,
                                    const uint32_t table[4][256]) {
  uint64_t a = crc, b = 0, c = 0;
  const uint8_t *end = p + block;
  while (p < end) {
    a = _mm_crc32_u64(a, load64(p));
    b = _mm_crc32_u64(b, load64(p + block));
    c = _mm_crc32_u64(c, load64(p + 2 * block));
    p += 8;
  }
  uint32_t r = carry(table, (uint32_t)a) ^ (uint32_t)b;
  return carry(table, r) ^ (uint32_t)c;
}

static uint32_t crc32c_hw(uint32_t initial, const uint8_t *p, size_t n) {
  uint32_t crc = ~initial;
  while (n && ((uintptr_t)p & 7)) {
    crc = _mm_crc32_u8(crc, *p++);
    n--;
  }
  while (n >= 3 * LONG_BLOCK) {
    crc = three_blocks(crc, p, LONG_BLOCK, zeros_long);
    p += 3 * LONG_BLOCK;
    n -= 3 * LONG_BLOCK;
  }
  while (n >= 3 * SHORT_BLOCK) {
    crc = three_blocks(crc, p, SHORT_BLOCK, zeros_short);
    p += 3 * SHORT_BLOCK;
    n -= 3 * SHORT_BLOCK;
  }
  uint64_t c = crc;
  while (n >= 8) {
    c = _mm_crc32_u64(c, load64(p));
    p += 8;
    n -= 8;
  }
  crc = (uint32_t)c;
  while (n--) crc = _mm_crc32_u8(crc, *p++);
  return ~crc;
}

static napi_value js_crc32c(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  void *data = NULL;
  size_t length = 0;
  napi_typedarray_type type;
  if (argc < 1 ||
      napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "crc32c: expected a Uint8Array");
    return NULL;
  }
  uint32_t initial = 0;
  if (argc > 1) {
    napi_valuetype t;
    napi_typeof(env, argv[1], &t);
    if (t == napi_number) napi_get_value_uint32(env, argv[1], &initial);
  }
  napi_value out;
  napi_create_uint32(env, crc32c_hw(initial, (const uint8_t *)data, length), &out);
  return out;
}
#endif

static napi_value init(napi_env env, napi_value exports) {
#if HAVE_HW
  // Compiled for SSE4.2: export nothing on a CPU without it (the loader then uses another implementation).
  if (!__builtin_cpu_supports("sse4.2")) return exports;
  build_zeros_table(zeros_long, LONG_BLOCK);
  build_zeros_table(zeros_short, SHORT_BLOCK);
  napi_value fn;
  napi_create_function(env, "crc32c", NAPI_AUTO_LENGTH, js_crc32c, NULL, &fn);
  napi_set_named_property(env, exports, "crc32c", fn);
#endif
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
