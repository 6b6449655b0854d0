//! In-process tests of the router: every route and every error status, over a
//! memory store and a manual clock, through `tower::ServiceExt::oneshot`.

mod auth;
mod availability;
mod config;
mod demo;
mod docs;
mod faults;
mod feed_store;
mod feeds;
mod fuzz_requests;
mod limits;
mod matrix_auth;
mod matrix_harness;
mod matrix_inputs;
mod matrix_regressions;
mod reservations;
mod schedule;
mod services;
mod slots;
mod statuses;
mod support;
