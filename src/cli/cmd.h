/* cmd.h - commands of the moat CLI that live outside main.c. Each takes the
 * command's own argv (argv[0] is the command's name) and returns the exit
 * status: 0 ok, 1 failure or findings, 2 usage or input error. */
#ifndef MOAT_CMD_H
#define MOAT_CMD_H

/* moat log init | verify | why (src/cli/cmd_log.c). */
int moat_cmd_log(int argc, char **argv);

/* moat waf tune (src/cmd_waf.c). */
int moat_cmd_waf(int argc, char **argv);

/* moat user add | passwd | list | del | lock | unlock | roles | mfa | recovery |
 * import | token | logout (src/cli/cmd_user.c). */
int moat_cmd_user(int argc, char **argv);
/* moat audit code | settings (src/cli/cmd_audit_code.c); argv[0] is "code" or
 * "settings". */
int moat_cmd_audit_code(int argc, char **argv);
/* moat audit rules [--markdown] (src/cli/cmd_audit_code.c). */
int moat_cmd_audit_rules(int argc, char **argv);

/* moat audit secrets [PATH] (src/cli/cmd_audit_secrets.c). */
int moat_cmd_audit_secrets(int argc, char **argv);
/* moat audit [SUB] (src/cli/cmd_audit.c): a sub-command, or all four with one
 * summary. */
int moat_cmd_audit(int argc, char **argv);

/* moat cert selfsigned (src/cli/cmd_cert.c). */
int moat_cmd_cert(int argc, char **argv);

/* moat db import | update | info (src/cli/cmd_db.c). */
int moat_cmd_db(int argc, char **argv);

/* moat audit deps (src/cli/cmd_audit_deps.c). */
int moat_cmd_audit_deps(int argc, char **argv);

/* moat reload (src/cli/cmd_reload.c): SIGHUP to the running moat, and its outcome. */
int moat_cmd_reload(int argc, char **argv);
/* moat status (src/cli/cmd_status.c): the running moat's pid file and status file. */
int moat_cmd_status(int argc, char **argv);

/* moat store migrate | copy (src/cli/cmd_store.c). */
int moat_cmd_store(int argc, char **argv);
/* moat ban list | remove (src/cli/cmd_ban.c): the bans in the state store. */
int moat_cmd_ban(int argc, char **argv);

#endif
