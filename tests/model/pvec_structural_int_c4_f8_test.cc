// The structural model test of pvec (tests/testing/pvec_structural_model.h) on one tree shape:
// int elements, 4 per chunk, fan-out 8.
#include "testing/pvec_structural_model.h"

COWDB_PVEC_STRUCTURAL_MODEL_TEST(int_c4_f8)
COWDB_PVEC_FOCUSED_DIFF_TEST(int_c4_f8)
