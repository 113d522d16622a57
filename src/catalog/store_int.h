/* store_int.h -- private to src/catalog/: the backend constructors behind dmp_store_open. */
#ifndef DMP_STORE_INT_H
#define DMP_STORE_INT_H

#include "dmp/store.h"

/* Opens (creating when absent) the SQLite store at 'path' and migrates its schema. */
int dmp_store_sqlite_open(const char *path, dmp_store_t **out, dmp_error_t *err);

#endif
