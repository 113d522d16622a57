/* fixtures.h -- inputs shared by the unit tests. */
#ifndef DMP_TEST_FIXTURES_H
#define DMP_TEST_FIXTURES_H

/* The request of DESIGN 3A, verbatim (examples/products/s3cdp.yaml holds the same). */
#define DMP_TEST_REQUEST_3A                                                                \
    "name: test_name\n"                                                                    \
    "domain: test_domain\n"                                                                \
    "version: 1.0.1\n"                                                                     \
    "environment: {name: test, specific: {}}\n"                                            \
    "outputPorts:\n"                                                                       \
    "  - name: test_s3\n"                                                                  \
    "    resourceType: raw\n"                                                              \
    "    technology: s3cdp\n"                                                              \
    "    description: my s3 directory\n"                                                   \
    "    allow: [dmp-test-1, dmp-test-2]\n"                                                \
    "    owner: dmp-test-owner\n"                                                          \
    "    specific: {directory: test_dir/full, bucket: ms-datamesh-s3}\n"                   \
    "    dependsOn: []\n"                                                                  \
    "workloads: []\n"                                                                      \
    "observability: []\n"

#endif
