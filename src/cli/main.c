/* main.c -- the dmp binary: subcommand dispatch. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    return dmp_cli_main(argc, argv);
}
