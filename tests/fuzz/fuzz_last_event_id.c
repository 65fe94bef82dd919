/* fuzz_last_event_id.c - libFuzzer harness for Last-Event-ID
 * classification, sh_history_locate() (src/history.h).
 *
 * The input, cut at MAX_INPUT bytes and at its first NUL, is the
 * Last-Event-ID. Each run builds the histories of table `configs` (hub
 * epoch EPOCH), all from the same NPUB published frames, some with hub ids
 * "EPOCH-<seq>", some with publisher ids; they differ in capacity (so the
 * oldest frames were dropped, or none kept at all) and in frames older
 * than max_age_ms (dropped by the lookup itself), and are freed after the
 * run. Checked for each:
 *   - FROM: index <= count; LIVE: index == count (and only for "");
 *     RESTART/EXPIRED/UNKNOWN: index 0;
 *   - the answer agrees with a model of the documented rules: an exact id
 *     match among the retained frames (newest first) resumes right after
 *     that frame; otherwise a hub id of this epoch resumes after its seq
 *     (every seq passes through the history, so retained seqs are
 *     contiguous), is EXPIRED below the retained ones and UNKNOWN above
 *     the newest; an earlier epoch is RESTART; anything else UNKNOWN.
 * LLVMFuzzerInitialize() checks once, deterministically, that every
 * retained id resumes right after its own frame, and a few fixed ids.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frame.h"
#include "history.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "fuzz_last_event_id: check failed at line %d: %s\n", \
              __LINE__, #cond);                                            \
      abort();                                                             \
    }                                                                      \
  } while (0)

#define EPOCH 1700000000ull
#define NPUB 9 /* seqs 1..NPUB published */
#define MAX_INPUT 300
#define HOUR_MS 3600000LL
#define LONG_AGO (-(1LL << 40)) /* a born_ms before any cutoff */

/* Publisher-chosen ids by seq (NULL: the hub's "EPOCH-seq"). Seq 6 has a
 * custom id that looks like a hub id of this epoch for another seq. */
static const char *const custom_ids[NPUB + 1] = {
  NULL, NULL, "x", NULL, "custom-4", NULL, "1700000000-2", "\xc3\xa9t\xc3\xa9",
  NULL, "9"
};

struct config {
  size_t cap;
  long long max_age_ms;
  uint64_t old; /* seqs 1..old were born long ago */
};

static const struct config configs[] = {
  { 6, 0, 0 },          /* keeps 4..9 */
  { 6, HOUR_MS, 5 },    /* keeps 4..9, the lookup drops 4..5 */
  { 6, HOUR_MS, NPUB }, /* everything aged out */
  { 0, 0, 0 },          /* no history */
};
#define NCONFIGS (sizeof(configs) / sizeof(configs[0]))

static void id_of(uint64_t seq, char *buf, size_t cap)
{
  if (NULL != custom_ids[seq])
    snprintf(buf, cap, "%s", custom_ids[seq]);
  else
    snprintf(buf, cap, "%llu-%llu", EPOCH, (unsigned long long) seq);
}

static long long now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void build(struct sh_history *h, const struct config *cf)
{
  long long now = now_ms();
  uint64_t seq;

  CHECK(0 == sh_history_init(h, cf->cap, cf->max_age_ms, EPOCH));
  for (seq = 1; seq <= NPUB; seq++) {
    char id[64];
    static const char body[] = "data: x\n\n";
    struct sh_frame *f;

    id_of(seq, id, sizeof(id));
    f = sh_frame_new_event(sizeof(body) - 1, id, strlen(id), NULL, 0);
    CHECK(NULL != f);
    memcpy(f->bytes, body, sizeof(body) - 1);
    f->seq = seq;
    f->born_ms = seq <= cf->old ? LONG_AGO : now;
    sh_history_append(h, &f, 1);
    sh_frame_unref(f); /* the history holds its own reference */
  }
  CHECK(NPUB == h->newest_seq);
}

/* The oldest seq the lookup keeps (NPUB + 1 when it keeps none). */
static uint64_t retained_from(const struct config *cf)
{
  uint64_t lo = NPUB + 1 - (cf->cap < NPUB ? cf->cap : NPUB);

  if (cf->max_age_ms > 0 && cf->old + 1 > lo)
    lo = cf->old + 1;
  return lo;
}

/* "<digits>-<digits>", 1-19 digits each, no sign, nothing else. */
static bool ref_parse(const char *s, uint64_t *epoch, uint64_t *seq)
{
  uint64_t v[2] = { 0, 0 };
  int part, digits;

  for (part = 0; part < 2; part++) {
    for (digits = 0; *s >= '0' && *s <= '9'; s++, digits++) {
      if (digits == 19)
        return false;
      v[part] = v[part] * 10 + (uint64_t) (*s - '0');
    }
    if (0 == digits || *s != (0 == part ? '-' : '\0'))
      return false;
    s++;
  }
  *epoch = v[0];
  *seq = v[1];
  return true;
}

static enum sh_resume model(const struct config *cf, const char *id,
                            size_t *from)
{
  uint64_t lo = retained_from(cf), epoch, seq;
  char buf[64];

  *from = 0;
  if ('\0' == id[0]) {
    *from = (size_t) (NPUB + 1 - lo);
    return SH_RESUME_LIVE;
  }
  for (seq = NPUB; seq >= lo; seq--) {
    id_of(seq, buf, sizeof(buf));
    if (0 == strcmp(buf, id)) {
      *from = (size_t) (seq + 1 - lo);
      return SH_RESUME_FROM;
    }
  }
  if (!ref_parse(id, &epoch, &seq))
    return SH_RESUME_UNKNOWN;
  if (epoch < EPOCH)
    return SH_RESUME_RESTART;
  if (epoch > EPOCH || seq > NPUB)
    return SH_RESUME_UNKNOWN;
  if (seq + 1 < lo)
    return SH_RESUME_EXPIRED;
  *from = (size_t) (seq + 1 - lo);
  return SH_RESUME_FROM;
}

static enum sh_resume locate(struct sh_history *h, const char *id, size_t *from)
{
  enum sh_resume r;

  *from = (size_t) -1;
  sh_history_lock(h);
  r = sh_history_locate(h, id, from);
  sh_history_unlock(h);
  return r;
}

static void check_one(const struct config *cf, const char *id)
{
  struct sh_history h;
  size_t from, want_from;
  enum sh_resume r, want;

  build(&h, cf);
  r = locate(&h, id, &from);
  CHECK(h.count == NPUB + 1 - retained_from(cf));
  switch (r) {
  case SH_RESUME_FROM:
    CHECK(from <= h.count);
    break;
  case SH_RESUME_LIVE:
    CHECK(from == h.count);
    break;
  case SH_RESUME_RESTART:
  case SH_RESUME_EXPIRED:
  case SH_RESUME_UNKNOWN:
    CHECK(0 == from);
    CHECK('\0' != sh_resume_reason(r)[0]);
    break;
  default:
    CHECK(!"sh_history_locate returned no enum sh_resume value");
  }
  want = model(cf, id, &want_from);
  if (r != want || from != want_from) {
    fprintf(stderr,
            "fuzz_last_event_id: history cap %zu age %lld old %llu: "
            "locate(\"%s\") = %d from %zu, expected %d from %zu\n",
            cf->cap, cf->max_age_ms, (unsigned long long) cf->old, id, (int) r,
            from, (int) want, want_from);
    abort();
  }
  sh_history_destroy(&h);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  struct sh_history h;
  size_t i, from;
  char id[64];

  (void) argc;
  (void) argv;
  build(&h, &configs[0]);
  CHECK(6 == h.count);
  /* Each retained id resumes right after its own frame. */
  for (i = 0; i < h.count; i++) {
    CHECK(SH_RESUME_FROM == locate(&h, sh_history_at(&h, i)->id, &from));
    CHECK(from == i + 1);
  }
  /* The newest id: nothing to replay. A dropped hub id: expired. */
  id_of(NPUB, id, sizeof(id));
  CHECK(SH_RESUME_FROM == locate(&h, id, &from) && 6 == from);
  CHECK(SH_RESUME_FROM == locate(&h, "1700000000-9", &from) && 6 == from);
  CHECK(SH_RESUME_FROM == locate(&h, "1700000000-5", &from) && 2 == from);
  CHECK(SH_RESUME_FROM == locate(&h, "1700000000-2", &from) && 3 == from);
  CHECK(SH_RESUME_EXPIRED == locate(&h, "1700000000-1", &from) && 0 == from);
  CHECK(SH_RESUME_RESTART == locate(&h, "1699999999-5", &from) && 0 == from);
  CHECK(SH_RESUME_UNKNOWN == locate(&h, "1700000000-10", &from) && 0 == from);
  CHECK(SH_RESUME_UNKNOWN == locate(&h, "x", &from) && 0 == from);
  CHECK(SH_RESUME_LIVE == locate(&h, "", &from) && 6 == from);
  CHECK(SH_RESUME_LIVE == locate(&h, NULL, &from) && 6 == from);
  sh_history_destroy(&h);
  /* Aged out or no history: the newest id still means "nothing missed". */
  for (i = 2; i < NCONFIGS; i++) {
    build(&h, &configs[i]);
    CHECK(SH_RESUME_FROM == locate(&h, "1700000000-9", &from) && 0 == from);
    CHECK(0 == h.count);
    CHECK(SH_RESUME_EXPIRED == locate(&h, "1700000000-8", &from));
    sh_history_destroy(&h);
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char id[MAX_INPUT + 1];
  size_t n = size < MAX_INPUT ? size : MAX_INPUT, i;

  if (n > 0)
    memcpy(id, data, n);
  id[n] = '\0';
  for (i = 0; i < NCONFIGS; i++)
    check_one(&configs[i], id);
  return 0;
}
