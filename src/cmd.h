/* cmd.h - commands of the moat CLI that live outside main.c. Each takes the
 * command's own argv (argv[0] is the command's name) and returns the exit
 * status: 0 ok, 1 failure or findings, 2 usage or input error. */
#ifndef MOAT_CMD_H
#define MOAT_CMD_H

/* moat log init | verify | why (src/cmd_log.c). */
int moat_cmd_log(int argc, char **argv);

/* moat db import | update | info (src/cmd_db.c). */
int moat_cmd_db(int argc, char **argv);

/* moat audit deps (src/cmd_audit_deps.c). */
int moat_cmd_audit_deps(int argc, char **argv);

#endif
