/* main.c - placeholder entry until the CLI lands in this same change. */
#include <stdio.h>

int main(void)
{
    fputs("packettracer: no command\n", stderr);
    return 2;
}
