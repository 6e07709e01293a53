// wirestate: TCP connection states on the wire, at line rate.
#include <cstdio>
#include <cstring>
#include <exception>

#include "app.hpp"
#include "options.hpp"

int main(int argc, char** argv) {
    using namespace ws::pipeline;
    Options opt;
    try {
        opt = parse_options(argc, argv);
    } catch (const UsageError& e) {
        if (e.what()[0] == '\0') {  // --help
            std::fputs(usage_text(), stdout);
            return 0;
        }
        std::fprintf(stderr, "wirestate: %s\n", e.what());
        return 2;
    }
    try {
        return run(opt, argv[0]);
    } catch (const UsageError& e) {
        std::fprintf(stderr, "wirestate: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "wirestate: %s\n", e.what());
        return 2;
    }
}
