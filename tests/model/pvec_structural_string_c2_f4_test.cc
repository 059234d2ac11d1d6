// The structural model test of pvec (tests/testing/pvec_structural_model.h) on one tree shape:
// std::string elements, 2 per chunk, fan-out 4.
#include "testing/pvec_structural_model.h"

COWDB_PVEC_STRUCTURAL_MODEL_TEST(string_c2_f4)
