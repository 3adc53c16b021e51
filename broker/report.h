/* report.h -- the reports that close leases (DONE, DISCOVERED, WRITTEN, DEAD):
 * recorded as they arrive, kept while Redis fails (outage.h) and replayed when
 * it takes writes again. */
#ifndef BROKER_REPORT_H
#define BROKER_REPORT_H

#include "broker.h"

/* Records a report from peer as it arrives; one Redis cannot take now is kept
 * for a replay (m's frames are taken then), or dropped when it cannot be kept
 * (its lease decides). Never fails: a bad or refused one is logged and counted. */
void broker_on_report(broker *b, int peer, zc_msg *m);
/* A report that arrives while Redis fails: a DONE frees its fetch slots now;
 * what needs recording is kept for the replay (m's frames are taken), or dropped
 * when it cannot be (its lease will expire and the URL come back, which loses
 * nothing). Only what its sender may report is kept. */
void broker_report_while_failing(broker *b, int peer, zc_msg *m);
/* Replays the reports kept while Redis failed (it takes writes again), oldest
 * first; stops, keeping the rest, if Redis fails again. */
void broker_replay_reports(broker *b);

#endif
