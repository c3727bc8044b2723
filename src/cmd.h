/* cmd.h - commands of the moat CLI that live outside main.c. Each takes the
 * command's own argv (argv[0] is the command's name) and returns the exit
 * status: 0 ok, 1 failure or findings, 2 usage or input error. */
#ifndef MOAT_CMD_H
#define MOAT_CMD_H

/* moat log init | verify | why (src/cmd_log.c). */
int moat_cmd_log(int argc, char **argv);

/* moat waf tune (src/cmd_waf.c). */
int moat_cmd_waf(int argc, char **argv);

/* moat user add | passwd | list | del | lock | unlock | roles | mfa | recovery |
 * import | token | logout (src/cmd_user.c). */
int moat_cmd_user(int argc, char **argv);
/* moat audit code | settings (src/cmd_audit_code.c); argv[0] is "code" or
 * "settings". */
int moat_cmd_audit_code(int argc, char **argv);

/* moat audit secrets [PATH] (src/cmd_audit_secrets.c). */
int moat_cmd_audit_secrets(int argc, char **argv);
/* moat audit [SUB] (src/cmd_audit.c): a sub-command, or all four with one
 * summary. */
#define MOAT_AUDIT_PARTS 4
int moat_cmd_audit(int argc, char **argv);

/* moat db import | update | info (src/cmd_db.c). */
int moat_cmd_db(int argc, char **argv);

/* moat audit deps (src/cmd_audit_deps.c). */
int moat_cmd_audit_deps(int argc, char **argv);

#endif
