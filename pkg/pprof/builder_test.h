/* For unit tests that build profiles by hand: the builder's interning calls
 * as expressions, each asserting it succeeded. Include after cmocka.h. */
#ifndef BPPROF_PPROF_BUILDER_TEST_H
#define BPPROF_PPROF_BUILDER_TEST_H

#include "pprof/builder.h"

static inline uint64_t builder_test__mapping(struct pprof_builder *b, const struct pprof_mapping *m)
{
	uint64_t id = 0;

	assert_int_equal(pprof_builder__mapping(b, m, &id), 0);
	return id;
}

static inline uint64_t builder_test__function(struct pprof_builder *b, const char *name,
					      const char *system_name, const char *filename,
					      int64_t start_line)
{
	uint64_t id = 0;

	assert_int_equal(pprof_builder__function(b, name, system_name, filename, start_line, &id), 0);
	return id;
}

static inline uint64_t builder_test__location(struct pprof_builder *b, uint64_t mapping_id,
					      uint64_t address, const struct pprof_line *lines,
					      size_t n_lines)
{
	uint64_t id = 0;

	assert_int_equal(pprof_builder__location(b, mapping_id, address, lines, n_lines, &id), 0);
	return id;
}

#endif
