/* frontier_lua.h -- the frontier's Lua scripts: broker/lua/NAME.lua, each one
 * atomic step of the crawl, embedded at build time (scripts/embed-lua.sh writes
 * the table into build/gen/frontier_lua.c) and called by SHA1 with EVALSHA
 * (frontier_cmd.h loads a script with SCRIPT LOAD where Redis answers NOSCRIPT).
 *
 * Every script writes and says so in its first line, "#!lua" (Redis 7): Redis
 * then refuses it whole, before it runs, when it takes no writes (maxmemory
 * reached, a read-only replica). Without it a script runs until its first
 * refused command and keeps what it did before: a lease script would pop URLs
 * and never record them.
 *
 * A new script: broker/lua/NAME.lua and FRONTIER_LUA_NAME below (the build
 * fails when either is missing). */
#ifndef BROKER_FRONTIER_LUA_H
#define BROKER_FRONTIER_LUA_H

#include <stddef.h>

typedef enum {
    FRONTIER_LUA_BEGIN,
    FRONTIER_LUA_CLAMP,
    FRONTIER_LUA_DEAD,
    FRONTIER_LUA_DISCOVER,
    FRONTIER_LUA_END,
    FRONTIER_LUA_EXCLUDE,
    FRONTIER_LUA_GONE,
    FRONTIER_LUA_HOLD,
    FRONTIER_LUA_LEASE,
    FRONTIER_LUA_MAINTAIN,
    FRONTIER_LUA_RECOVER,
    FRONTIER_LUA_REDIRECT,
    FRONTIER_LUA_RELEASE,
    FRONTIER_LUA_REQUEUE,
    FRONTIER_LUA_RETRY,
    FRONTIER_LUA_ROBOTS_DONE,
    FRONTIER_LUA_SHIFT,
    FRONTIER_LUA_WRITTEN,
    FRONTIER_NSCRIPTS
} frontier_lua;

typedef struct frontier_script {
    const char *name; /* its file's name without ".lua" */
    const char *sha;  /* SHA1 of text in hex: the name EVALSHA calls it by */
    size_t len;       /* of text */
    const char *text; /* the whole script, "-- include:" lines expanded */
} frontier_script;

extern const frontier_script frontier_scripts[FRONTIER_NSCRIPTS];

#endif
