/* cmd_serve.c -- `dmp serve`: load the configuration, run the server. */
#include "cli/cli.h"
#include "dmp/server.h"

int dmp_cmd_serve(int argc, char **argv)
{
    dmp_server_conf_t conf;
    dmp_error_t err = {0};
    int help = 0;
    if (dmp_server_conf_load(argc, argv, &conf, &help, stdout, &err) != DMP_OK) {
        dmp_server_conf_fini(&conf);
        return dmp_cli_fail(DMP_EXIT_USAGE, "serve", "%s", err.msg);
    }
    if (help) {
        dmp_server_conf_fini(&conf);
        return DMP_EXIT_OK;
    }
    int rc = dmp_server_run(&conf, &err);
    dmp_server_conf_fini(&conf);
    if (rc != DMP_OK)
        return dmp_cli_fail(rc == DMP_INVALID ? DMP_EXIT_USAGE : DMP_EXIT_FAIL, "serve", "%s",
                            err.msg);
    return DMP_EXIT_OK;
}
