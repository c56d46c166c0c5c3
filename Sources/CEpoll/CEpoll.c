// Intentionally empty: SwiftPM needs one source file to build the CEpoll module, whose API is its header.
#include "CEpoll.h"
