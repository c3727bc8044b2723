/* main.c - temporary entry point */
#include "core.h"
int main(void) { return 0; }
