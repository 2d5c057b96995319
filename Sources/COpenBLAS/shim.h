// Debian's libopenblas-dev installs cblas.h (with openblas_set_num_threads) in the
// include directory that pkg-config reports.
#include <cblas.h>
