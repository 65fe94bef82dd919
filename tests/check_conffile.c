/* check_conffile.c - unit tests for conffile.h (--config FILE), the
 * command line over the file (sh_cli_merge()), the sample ssehub.conf,
 * and the program's exit on a bad file. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "cli.h"
#include "cli_table.h"
#include "conffile.h"
#include "testlib.h"

/* The parse of text (copied: values point into the copy, kept in r). */
struct parsed {
  struct sh_config cfg;
  char text[4096];
  char err[256];
  int rc;
};

static void parse_text(struct parsed *p, const char *text)
{
  memset(p, 0, sizeof(*p));
  ck_assert_uint_lt(strlen(text), sizeof(p->text));
  strcpy(p->text, text);
  sh_cli_init(&p->cfg);
  p->rc = sh_conffile_parse(&p->cfg, "t.conf", p->text, p->err, sizeof(p->err));
}

/* text must be refused with exactly the message want. */
static void expect_error(const char *text, const char *want)
{
  struct parsed *p = malloc(sizeof(*p));

  ck_assert_ptr_nonnull(p);
  parse_text(p, text);
  ck_assert_msg(-EINVAL == p->rc, "'%s' was accepted", text);
  ck_assert_msg(0 == strcmp(want, p->err), "'%s': got '%s', want '%s'", text,
                p->err, want);
  ck_assert_ptr_null(strchr(p->err, '\n'));
  free(p);
}

START_TEST(test_conffile_values)
{
  struct parsed *p = malloc(sizeof(*p));

  ck_assert_ptr_nonnull(p);
  parse_text(p, "# a comment\n"
                "\n"
                "   # an indented comment\n"
                "port = 9001\n"
                "bind=127.0.0.1\r\n"
                "\theartbeat   =  2.5  \n"
                "client-buffer = 2M\n"
                "cors-origin = https://a.example\n"
                "cors-origin = \"https://b.example\"\n"
                "reuse-port\n"
                "publish-open = true\n"
                "no-demo-page = false\n"
                "stdin\n"
                "publish-token-file = /etc/ssehub/pub token#1\n"
                "verbose");
  ck_assert_msg(0 == p->rc, "%s", p->err);
  ck_assert_uint_eq(9001, p->cfg.hub.port);
  ck_assert_str_eq("127.0.0.1", p->cfg.hub.bind_address);
  ck_assert_uint_eq(2500, p->cfg.hub.heartbeat_ms);
  ck_assert_uint_eq(2u << 20, p->cfg.hub.client_buffer);
  ck_assert_uint_eq(2, p->cfg.hub.ncors_origins);
  ck_assert_str_eq("https://a.example", p->cfg.hub.cors_origins[0]);
  ck_assert_str_eq("https://b.example", p->cfg.hub.cors_origins[1]);
  ck_assert_int_eq(1, p->cfg.hub.reuse_port);
  ck_assert_int_eq(1, p->cfg.hub.publish_open);
  ck_assert_int_eq(1, p->cfg.hub.demo_page); /* "= false": left as it was */
  ck_assert_int_eq(SH_STDIN_LINES, p->cfg.stdin_mode);
  /* '#' after the start of a line is part of the value. */
  ck_assert_str_eq("/etc/ssehub/pub token#1", p->cfg.publish_token_file);
  ck_assert_int_eq(SSEHUB_LOG_DEBUG, p->cfg.hub.log_level);
  /* A key twice: the last wins. */
  parse_text(p, "port = 1\nport = 2\n");
  ck_assert_int_eq(0, p->rc);
  ck_assert_uint_eq(2, p->cfg.hub.port);
  /* An empty file is the defaults. */
  parse_text(p, "");
  ck_assert_int_eq(0, p->rc);
  ck_assert_uint_eq(8888, p->cfg.hub.port);
  free(p);
}
END_TEST

START_TEST(test_conffile_errors_name_file_and_line)
{
  expect_error("port = 80\n\nprot = 1\n", "t.conf:3: unknown key \"prot\"");
  expect_error("port = 70000\n",
               "t.conf:1: invalid --port '70000' (expected 0-65535)");
  expect_error("# x\nheartbeat = fast\n",
               "t.conf:2: invalid --heartbeat 'fast' (expected 0 or 0.1-86400 "
               "seconds)");
  expect_error("port\n", "t.conf:1: option '--port' needs a value");
  expect_error("port 8888\n", "t.conf:1: expected \"key = value\"");
  expect_error("= 3\n", "t.conf:1: expected \"key = value\"");
  expect_error("Port = 3\n", "t.conf:1: expected \"key = value\"");
  expect_error("reuse-port = yes\n",
               "t.conf:1: \"reuse-port\" takes true, false or no value, not "
               "'yes'");
  expect_error("config = /etc/other.conf\n",
               "t.conf:1: \"config\" cannot be set in a config file");
  expect_error("help\n", "t.conf:1: \"help\" cannot be set in a config file");
  expect_error("version\n",
               "t.conf:1: \"version\" cannot be set in a config file");
  expect_error("stdin = words\n",
               "t.conf:1: invalid --stdin='words' (expected lines or blocks)");
  expect_error("cors-origin = a b\n",
               "t.conf:1: invalid --cors-origin 'a b' (expected one origin "
               "such as https://example.com, or *)");
  /* What a file holds cannot break the one-line message. */
  expect_error("port = 1\x1b[2J\n",
               "t.conf:1: invalid --port '1?[2J' (expected 0-65535)");
}
END_TEST

/* The command line over the file: scalars and lists it gives replace the
 * file's; the rest stays the file's. */
START_TEST(test_conffile_command_line_overrides)
{
  char *argv[] = {
    "ssehub", "--port", "2222", "--cors-origin", "https://cli.example",
    "-q",     NULL
  };
  struct parsed *p = malloc(sizeof(*p));
  struct sh_config cli;
  char err[256];

  ck_assert_ptr_nonnull(p);
  parse_text(p, "port = 1111\nretry = 1234\nverbose\n"
                "cors-origin = https://a.example\n"
                "cors-origin = https://b.example\n");
  ck_assert_int_eq(0, p->rc);
  ck_assert_int_eq(SH_CLI_RUN, sh_cli_parse(&cli, 6, argv, err, sizeof(err)));
  ck_assert_int_eq(SH_CLI_RUN, sh_cli_merge(&p->cfg, &cli, err, sizeof(err)));
  ck_assert_uint_eq(2222, p->cfg.hub.port);
  ck_assert_uint_eq(1234, p->cfg.hub.retry_ms);
  ck_assert_int_eq(SSEHUB_LOG_ERROR, p->cfg.hub.log_level);
  ck_assert_uint_eq(1, p->cfg.hub.ncors_origins);
  ck_assert_ptr_eq(p->cfg.origins, p->cfg.hub.cors_origins);
  ck_assert_str_eq("https://cli.example", p->cfg.hub.cors_origins[0]);
  /* The checks between flags run on the result. */
  parse_text(p, "tls-cert = /x.pem\n");
  ck_assert_int_eq(0, p->rc);
  ck_assert_int_eq(SH_CLI_RUN, sh_cli_parse(&cli, 1, argv, err, sizeof(err)));
  ck_assert_int_eq(SH_CLI_ERROR, sh_cli_merge(&p->cfg, &cli, err, sizeof(err)));
  ck_assert_str_eq("--tls-cert and --tls-key go together", err);
  free(p);
}
END_TEST

START_TEST(test_conffile_read)
{
  char path[] = "/tmp/check_conffile_XXXXXX", err[256], *text;
  int fd = mkstemp(path);

  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(7, write(fd, "port=1\n", 7));
  close(fd);
  ck_assert_int_eq(0, sh_conffile_read(path, &text, err, sizeof(err)));
  ck_assert_str_eq("port=1\n", text);
  free(text);
  fd = open(path, O_WRONLY | O_APPEND);
  ck_assert_int_eq(2, write(fd, "\0\n", 2));
  close(fd);
  ck_assert_int_eq(-EINVAL, sh_conffile_read(path, &text, err, sizeof(err)));
  ck_assert_ptr_null(text);
  ck_assert_ptr_nonnull(strstr(err, "NUL"));
  unlink(path);
  ck_assert_int_eq(-ENOENT, sh_conffile_read(path, &text, err, sizeof(err)));
  ck_assert_ptr_nonnull(strstr(err, path));
}
END_TEST

static const char *sample_path(void)
{
  const char *p = getenv("SSEHUB_SAMPLE_CONF");

  return NULL != p ? p : "ssehub.conf";
}

/* Every option of the table has its line in the sample ssehub.conf
 * ("#key = ..." or "#key"), and every such line, uncommented, parses. */
START_TEST(test_conffile_sample_has_every_key)
{
  char *text, *copy, *line, *next, err[256], *out;
  struct sh_config cfg;
  size_t i, n = 0;

  ck_assert_msg(0 == sh_conffile_read(sample_path(), &text, err, sizeof(err)),
                "%s", err);
  copy = strdup(text);
  out = calloc(1, strlen(text) + 1);
  ck_assert_ptr_nonnull(copy);
  ck_assert_ptr_nonnull(out);
  for (i = 0; i < sh_cli_nopts; i++) {
    const struct sh_opt *opt = &sh_cli_opts[i];
    char eq[80], bare[80];

    if (SH_OPT_ACTION == opt->kind || 0 == strcmp(opt->name, "config"))
      continue;
    snprintf(eq, sizeof(eq), "\n#%s = ", opt->name);
    snprintf(bare, sizeof(bare), "\n#%s\n", opt->name);
    ck_assert_msg(NULL != strstr(text, eq) || NULL != strstr(text, bare),
                  "%s has no line for \"%s\"", sample_path(), opt->name);
  }
  /* Uncomment the "#key..." lines (not the prose): they must parse. */
  for (line = copy; NULL != line; line = next) {
    size_t k;

    next = strchr(line, '\n');
    if (NULL != next)
      *next++ = '\0';
    if ('#' != line[0])
      continue; /* prose, a blank line, or the end (do not read past it) */
    for (k = 1; ('a' <= line[k] && line[k] <= 'z') || '-' == line[k]; k++)
      ;
    if (k > 1 && ('\0' == line[k] || ' ' == line[k])) {
      n += (size_t) sprintf(out + n, "%s\n", line + 1);
    }
  }
  sh_cli_init(&cfg);
  ck_assert_msg(0 == sh_conffile_parse(&cfg, "sample", out, err, sizeof(err)),
                "%s", err);
  free(out);
  free(copy);
  free(text);
}
END_TEST

static void write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");

  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

/* A bad line: exit 2 and one line naming the file and the line. */
START_TEST(test_conffile_program_bad_line_exits_2)
{
  char dir[] = "/tmp/check_conffile_XXXXXX", path[64], want[128];
  char out[4096], errs[4096], *nl;
  const char *args[] = { "--config", path, NULL };
  int st;

  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/ssehub.conf", dir);
  write_file(path, "# sample\nport = 0\n\nprot = 8080\n");
  st = tl_run_split(args, out, sizeof(out), errs, sizeof(errs),
                    5000 * tl_scale());
  ck_assert_msg(WIFEXITED(st) && 2 == WEXITSTATUS(st), "status %d", st);
  snprintf(want, sizeof(want), "ssehub: %s:4: unknown key \"prot\"\n", path);
  ck_assert_msg(0 == strcmp(want, errs), "stderr: '%s'", errs);
  ck_assert_str_eq("", out);
  /* An unreadable file: exit 2, naming it. */
  unlink(path);
  st = tl_run_split(args, out, sizeof(out), errs, sizeof(errs),
                    5000 * tl_scale());
  ck_assert_msg(WIFEXITED(st) && 2 == WEXITSTATUS(st), "status %d", st);
  nl = strchr(errs, '\n');
  ck_assert_msg(NULL != strstr(errs, path) && NULL != nl && '\0' == nl[1],
                "stderr: '%s'", errs);
  rmdir(dir);
}
END_TEST

/* The server starts from the sample file (every key commented out: the
 * defaults), and the command line still overrides it. */
START_TEST(test_conffile_server_starts_from_sample)
{
  const char *args[] = { "--config", sample_path(), NULL };
  struct tl_server srv;

  tl_server_start_ok(&srv, args);
  ck_assert_int_eq(200, tl_publish(srv.port, "x", 1, NULL));
  tl_server_stop_ok(&srv);
}
END_TEST

static Suite *conffile_suite(void)
{
  Suite *s = suite_create("conffile");
  TCase *parser = tcase_create("parser");
  TCase *program = tcase_create("program");

  tcase_add_test(parser, test_conffile_values);
  tcase_add_test(parser, test_conffile_errors_name_file_and_line);
  tcase_add_test(parser, test_conffile_command_line_overrides);
  tcase_add_test(parser, test_conffile_read);
  tcase_add_test(parser, test_conffile_sample_has_every_key);
  suite_add_tcase(s, parser);
  tcase_set_timeout(program, 30);
  tcase_add_test(program, test_conffile_program_bad_line_exits_2);
  tcase_add_test(program, test_conffile_server_starts_from_sample);
  suite_add_tcase(s, program);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(conffile_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return 0 == failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
