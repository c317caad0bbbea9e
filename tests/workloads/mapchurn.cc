// mapchurn: a C++ std::map under churn, for the heap-profiling benchmark
// (tests/bench/heap.sh): what a heap profiler costs a program whose
// allocations come with real work around them (a tree walk, node
// construction, rebalancing), not a bare malloc/free loop.
//   mapchurn ITERATIONS [KEYS]
// The map holds KEYS entries (default 100000); each iteration erases one
// key and inserts another (one node freed, one allocated through operator
// new/delete, so malloc and free) and looks a third up. Keys come from a
// xorshift generator, the same every run. Only the loop is timed
// (CLOCK_MONOTONIC), after untimed warm-up turns. Prints one line:
//   ns_per_iter 123.4 iterations N keys K bytes B
// B: the bytes its node allocations asked for, filling and warm-up included.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>

typedef std::map<std::uint64_t, std::uint64_t> Map;
// what operator new is asked for per node (libstdc++'s node type)
static const std::size_t NODE = sizeof(std::_Rb_tree_node<Map::value_type>);

static std::uint64_t state = 88172645463325252ull;

static inline std::uint64_t next(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static volatile std::uint64_t sink;
// untimed turns first (20 a key, at least 500000): the first ones run
// several times slower (the heap settling), which would weigh on short runs
static const unsigned long WARM_MIN = 500000, WARM_PER_KEY = 20;

__attribute__((noinline)) static void churn(Map &m, unsigned long n, std::uint64_t keys)
{
	for (unsigned long i = 0; i < n; i++) {
		Map::iterator it = m.lower_bound(next() % (keys * 4));

		if (it == m.end())
			it = m.begin();
		m.erase(it);
		m.emplace(next() % (keys * 4), i);
		it = m.find(next() % (keys * 4));
		if (it != m.end())
			sink = it->second;
	}
}

static int parse(const char *s, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = std::strtoul(s, &end, 10);
	return !errno && end != s && !*end && s[0] != '-' && *out;
}

int main(int argc, char **argv)
{
	unsigned long n, keys = 100000, inserts = 0, warm;
	double t0, t1;
	Map m;

	if (argc < 2 || argc > 3 || !parse(argv[1], &n) || (argc == 3 && !parse(argv[2], &keys))) {
		std::fprintf(stderr, "usage: mapchurn ITERATIONS [KEYS]\n");
		return 2;
	}
	while (m.size() < keys) {
		m.emplace(next() % (keys * 4), 0);
		inserts++;
	}
	warm = keys * WARM_PER_KEY > WARM_MIN ? keys * WARM_PER_KEY : WARM_MIN;
	churn(m, warm, keys);
	t0 = now_ns();
	churn(m, n, keys);
	t1 = now_ns();
	// each iteration inserts once (an existing key still allocates a node
	// that emplace then frees)
	std::printf("ns_per_iter %.1f iterations %lu keys %lu bytes %llu\n", (t1 - t0) / n, n, keys,
		    (unsigned long long)((inserts + warm + n) * NODE));
	return 0;
}
