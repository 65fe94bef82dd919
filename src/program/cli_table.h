/* cli_table.h - the option table behind cli.h, for cli.c and its tests.
 *
 * Purpose: one entry per flag (struct sh_opt), from which the getopt_long()
 * array, the --help text and the value checks all come. main() and a
 * config-file parser need only cli.h; this header is for cli.c and for
 * tests/check_cli.c, which checks that every entry reaches --help and the
 * getopt array. The table itself, and how to add a flag, is in cli.c.
 */
#ifndef SH_CLI_TABLE_H
#define SH_CLI_TABLE_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a flag's value is, and so how it is read and checked. */
/* clang-format off */
enum sh_opt_kind {
  SH_OPT_UINT,     /* decimal integer in [min, max] */
  SH_OPT_SIZE,     /* bytes, optional K or M suffix (powers of 1024) */
  SH_OPT_SECONDS,  /* seconds with up to 3 decimals, kept (and min, max
                      given) in milliseconds; messages add "seconds" */
  SH_OPT_STRING,   /* text, checked by nonempty and reject */
  SH_OPT_LIST,     /* repeatable STRING, appended to an array of max */
  SH_OPT_CHOICE,   /* optional value, one of choices; none = the first */
  SH_OPT_SET,      /* no value: stores set */
  SH_OPT_ACTION    /* no value: parsing stops with result set (--help) */
};
/* clang-format on */

/* The C type of the member an entry writes. cli.c's field macros check at
 * compile time that the member has it, so the two cannot disagree. */
enum sh_opt_store {
  SH_STORE_NONE,       /* actions write nothing */
  SH_STORE_U16,        /* uint16_t */
  SH_STORE_UNSIGNED,   /* unsigned */
  SH_STORE_SIZE,       /* size_t */
  SH_STORE_INT,        /* int */
  SH_STORE_LOG_LEVEL,  /* enum ssehub_log_level */
  SH_STORE_STDIN_MODE, /* enum sh_stdin_mode */
  SH_STORE_STRING,     /* const char * (pointing into argv) */
  SH_STORE_STRINGS     /* const char *[max], with an unsigned count */
};

struct sh_opt_choice {
  const char *name;
  int value;
};

/* clang-format off */
struct sh_opt {
  const char *name;      /* long flag without "--"; the config-file key */
  char letter;           /* short flag; 0 = none */
  enum sh_opt_kind kind;
  const char *arg;       /* the value's name in --help: N, BYTES, ... */
  enum sh_opt_store store;
  size_t off;            /* where the value goes in struct sh_config */
  size_t count_off;      /* SH_OPT_LIST: the unsigned count's offset */
  uint64_t min, max;     /* numbers: the range; SH_OPT_LIST: most items */
  bool zero_ok;          /* numbers: 0 (= off) also, below min */
  const char *unit;      /* numbers: said after the range in errors */
  bool nonempty;         /* STRING, LIST: "" is refused */
  const char *reject;    /* STRING, LIST: bytes refused */
  const char *expect;    /* STRING, LIST: what errors say is expected */
  const struct sh_opt_choice *choices; /* CHOICE: ends at a NULL name */
  int set;               /* SET: the value stored; ACTION: the result */
  const char *env;       /* STRING: read from this environment variable
                            when no flag set it */
  const char *help;      /* --help text, wrapped when printed;
                            "{default}" stands for the default value */
};
/* clang-format on */

extern const struct sh_opt sh_cli_opts[];
extern const size_t sh_cli_nopts;

/* Room for the table in getopt_long()'s terms. */
#define SH_CLI_MAX_OPTS 64
struct sh_getopt {
  struct option longopts[SH_CLI_MAX_OPTS + 1]; /* ends with a zero entry */
  char shortopts[3 * SH_CLI_MAX_OPTS + 2];
};

/* Fill g from the table: long options return their letter if they have
 * one, else SH_CLI_VAL0 + their index in sh_cli_opts. */
#define SH_CLI_VAL0 256
void sh_cli_getopt(struct sh_getopt *g);

#endif /* SH_CLI_TABLE_H */
