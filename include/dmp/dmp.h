/* dmp.h -- umbrella header for libdmp. */
#ifndef DMP_H
#define DMP_H
#include "dmp/core.h"
#endif
