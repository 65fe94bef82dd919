/* fuzz_topics.c - libFuzzer harness for the registry's topic table
 * (src/registry.h, src/client.h).
 *
 * The input is a program of operations on a registry of at most
 * MAX_CLIENTS clients (fd_cap 0, clients without a connection or fd, so no
 * MHD call is ever made: sh_client_read() is never called). Each
 * operation starts with one byte:
 *   op % 8 in 0..2  add a client subscribed to 1-3 topic names (next byte
 *                   % 3 + 1), each name being the next bytes up to '\n' or
 *                   NUL (at most TOPIC_NAME_MAX bytes; may be empty, may be "*",
 *                   may repeat);
 *   op % 8 in 3..4  remove the client picked by the next byte (and, if its
 *                   low bit is set, remove it again: a no-op);
 *   op % 8 in 5..6  sh_registry_snapshot_topics() for 1-16 names;
 *   op % 8 == 7     sh_registry_snapshot().
 * A model (the clients and their names) predicts, after every operation,
 * the registry count and the number of distinct topics in use, and for
 * each snapshot its exact size and how often each client appears (once
 * per listed topic it subscribes to, plus once for "*"). At the end the
 * registry is closed (snapshot of all; adds refused with -ESHUTDOWN) and
 * every client removed; the topic count must then be 0.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "fuzz_topics: check failed at line %d: %s\n", __LINE__, \
              #cond);                                                         \
      abort();                                                                \
    }                                                                         \
  } while (0)

/* The model's loops are bookkeeping, not code under test: keep them out
 * of the coverage feedback (and its comparison tracing, which is slow). */
#if defined(__clang__) && __clang_major__ >= 13
#define NO_COV __attribute__((no_sanitize("coverage")))
#else
#define NO_COV
#endif

#define MAX_CLIENTS 64
#define TOPIC_NAME_MAX 24
#define MAX_SNAP_NAMES SH_MAX_FRAME_TOPICS

struct input {
  const uint8_t *p;
  size_t left;
};

struct mclient {
  struct sh_client *c;
  unsigned n;
  char names[3][TOPIC_NAME_MAX + 1];
};

/* Distinct names in use with their subscriber counts (a client listing a
 * name twice counts once), kept up to date on add and remove. */
struct mname {
  char name[TOPIC_NAME_MAX + 1];
  size_t subs;
};

struct model {
  struct mclient cl[MAX_CLIENTS];
  size_t n;
  struct mname names[MAX_CLIENTS * 3];
  size_t nnames;   /* entries used, some with subs == 0 */
  size_t distinct; /* entries with subs > 0 */
};

static uint8_t next_byte(struct input *in)
{
  if (0 == in->left)
    return 0;
  in->left--;
  return *in->p++;
}

/* Bytes up to '\n' or NUL (consumed) or the end; longer names are cut. */
static void next_name(struct input *in, char *out)
{
  size_t n = 0;

  while (in->left > 0) {
    uint8_t b = next_byte(in);

    if ('\n' == b || '\0' == b)
      break;
    if (n < TOPIC_NAME_MAX)
      out[n++] = (char) b;
  }
  out[n] = '\0';
}

NO_COV static bool subscribes(const struct mclient *m, const char *name)
{
  unsigned i;

  for (i = 0; i < m->n; i++)
    if (0 == strcmp(m->names[i], name))
      return true;
  return false;
}

/* Count client m in (delta +1) or out (-1) of each name it lists. */
NO_COV static void model_names(struct model *mo, const struct mclient *m,
                               int delta)
{
  unsigned i, l;
  size_t j;

  for (i = 0; i < m->n; i++) {
    bool dup = false;

    for (l = 0; l < i && !dup; l++)
      dup = 0 == strcmp(m->names[l], m->names[i]);
    if (dup)
      continue;
    for (j = 0; j < mo->nnames; j++)
      if (0 == strcmp(mo->names[j].name, m->names[i]))
        break;
    if (j == mo->nnames) {
      CHECK(delta > 0);
      /* Reuse an unused entry if there is one. */
      for (j = 0; j < mo->nnames && mo->names[j].subs > 0; j++)
        ;
      if (j == mo->nnames)
        mo->nnames++;
      CHECK(j < sizeof(mo->names) / sizeof(mo->names[0]));
      memcpy(mo->names[j].name, m->names[i], sizeof(mo->names[j].name));
      mo->names[j].subs = 0;
    }
    if (delta > 0) {
      mo->distinct += 0 == mo->names[j].subs;
      mo->names[j].subs++;
    } else {
      CHECK(mo->names[j].subs > 0);
      mo->names[j].subs--;
      mo->distinct -= 0 == mo->names[j].subs;
    }
  }
}

/* How often the model says client m appears in a topic snapshot. */
NO_COV static size_t multiplicity(const struct mclient *m,
                                  char names[][TOPIC_NAME_MAX + 1], unsigned n)
{
  size_t k = 0;
  unsigned i;

  for (i = 0; i < n; i++)
    if (0 != strcmp(names[i], "*") && subscribes(m, names[i]))
      k++;
  return k + subscribes(m, "*");
}

NO_COV static size_t count_in(struct sh_client *const *v, size_t n,
                              const struct sh_client *c)
{
  size_t k, seen = 0;

  for (k = 0; k < n; k++)
    seen += v[k] == c;
  return seen;
}

static void check_counts(struct sh_registry *reg, const struct model *mo)
{
  CHECK(sh_registry_count(reg) == mo->n);
  CHECK(sh_registry_topic_count(reg) == mo->distinct);
}

static void op_add(struct sh_registry *reg, struct model *mo, struct input *in)
{
  struct mclient m;
  const char *names[3];
  unsigned i;
  int rc;

  memset(&m, 0, sizeof(m));
  m.n = next_byte(in) % 3 + 1;
  for (i = 0; i < m.n; i++) {
    next_name(in, m.names[i]);
    names[i] = m.names[i];
  }
  m.c = sh_client_new(NULL, -1, 8, 4096, 1 << 20);
  CHECK(NULL != m.c);
  CHECK(0 == sh_client_set_topics(m.c, names, m.n));
  rc = sh_registry_add(reg, m.c);
  if (mo->n == MAX_CLIENTS) {
    CHECK(-EBUSY == rc);
    CHECK(!m.c->registered);
    sh_client_unref(m.c);
    return;
  }
  CHECK(0 == rc);
  CHECK(m.c->registered);
  mo->cl[mo->n++] = m; /* the model keeps our reference */
  model_names(mo, &m, +1);
}

static void op_remove(struct sh_registry *reg, struct model *mo,
                      struct input *in)
{
  uint8_t b = next_byte(in);
  size_t i;
  struct sh_client *c;

  if (0 == mo->n)
    return;
  i = b % mo->n;
  c = mo->cl[i].c;
  model_names(mo, &mo->cl[i], -1);
  mo->cl[i] = mo->cl[--mo->n];
  sh_registry_remove(reg, c);
  CHECK(!c->registered);
  if (b & 1) {
    sh_registry_remove(reg, c); /* not registered: a no-op */
    check_counts(reg, mo);
  }
  sh_client_unref(c);
}

static void op_snapshot_topics(struct sh_registry *reg, struct model *mo,
                               struct input *in, struct sh_client ***buf,
                               size_t *cap)
{
  char names[MAX_SNAP_NAMES][TOPIC_NAME_MAX + 1];
  const char *ptrs[MAX_SNAP_NAMES];
  unsigned n = next_byte(in) % MAX_SNAP_NAMES + 1, i;
  size_t got, want = 0, j, k;

  for (i = 0; i < n; i++) {
    next_name(in, names[i]);
    ptrs[i] = names[i];
  }
  for (j = 0; j < mo->n; j++)
    want += multiplicity(&mo->cl[j], names, n);
  got = sh_registry_snapshot_topics(reg, ptrs, n, buf, cap);
  CHECK(got == want);
  CHECK(got <= *cap);
  /* Exactly the predicted clients, each as often as predicted. */
  for (j = 0; j < mo->n; j++)
    CHECK(count_in(*buf, got, mo->cl[j].c)
          == multiplicity(&mo->cl[j], names, n));
  for (k = 0; k < got; k++)
    CHECK((*buf)[k]->registered);
  sh_registry_release(*buf, got);
}

static void op_snapshot(struct sh_registry *reg, struct model *mo)
{
  struct sh_client *snap[MAX_CLIENTS];
  size_t got = sh_registry_snapshot(reg, snap), j;

  CHECK(got == mo->n);
  for (j = 0; j < mo->n; j++)
    CHECK(1 == count_in(snap, got, mo->cl[j].c));
  sh_registry_release(snap, got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct sh_registry reg;
  struct model *mo = calloc(1, sizeof(*mo));
  struct input in = { data, size };
  struct sh_client **buf = NULL;
  size_t cap = 0;

  CHECK(NULL != mo);
  CHECK(0 == sh_registry_init(&reg, MAX_CLIENTS, 0));
  while (in.left > 0) {
    switch (next_byte(&in) % 8) {
    case 0:
    case 1:
    case 2:
      op_add(&reg, mo, &in);
      break;
    case 3:
    case 4:
      op_remove(&reg, mo, &in);
      break;
    case 5:
    case 6:
      op_snapshot_topics(&reg, mo, &in, &buf, &cap);
      break;
    default:
      op_snapshot(&reg, mo);
      break;
    }
    check_counts(&reg, mo);
  }
  /* Close: every client in the snapshot, and no more adds. */
  {
    struct sh_client *snap[MAX_CLIENTS];
    struct sh_client *late = sh_client_new(NULL, -1, 8, 4096, 1 << 20);
    size_t got = sh_registry_close(&reg, snap), j;

    CHECK(got == mo->n);
    for (j = 0; j < mo->n; j++)
      CHECK(1 == count_in(snap, got, mo->cl[j].c));
    sh_registry_release(snap, got);
    CHECK(NULL != late);
    CHECK(-ESHUTDOWN == sh_registry_add(&reg, late));
    CHECK(!late->registered);
    sh_client_unref(late);
    check_counts(&reg, mo);
  }
  /* Tear down, oldest first (exercises the swap-removes). */
  while (mo->n > 0) {
    struct sh_client *c = mo->cl[0].c;

    model_names(mo, &mo->cl[0], -1);
    mo->cl[0] = mo->cl[--mo->n];
    sh_registry_remove(&reg, c);
    sh_client_unref(c);
    check_counts(&reg, mo);
  }
  CHECK(0 == mo->distinct);
  CHECK(0 == sh_registry_topic_count(&reg));
  CHECK(0 == sh_registry_count(&reg));
  sh_registry_destroy(&reg);
  free(buf);
  free(mo);
  return 0;
}
