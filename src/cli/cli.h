/* cli.h - subcommands of the packettracer binary (internal to src/cli). */
#ifndef PT_CLI_H
#define PT_CLI_H

#include <stdbool.h>
#include <stdint.h>

/* Each returns the process exit status: 0 ok, 1 runtime/input error, 2 usage. */
int pt_cli_read(int argc, char **argv);
int pt_cli_run(int argc, char **argv);
int pt_cli_ifaces(int argc, char **argv);

/* Parse an unsigned decimal in [min, max]; false with a message on stderr
 * naming @opt when @s is not one. */
bool pt_cli_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
