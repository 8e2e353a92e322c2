//! Signals: what Baton reads off each customer turn (sentiment, frustration, explicit request
//! for a human, issue type, loops). Pure functions of the timeline.
