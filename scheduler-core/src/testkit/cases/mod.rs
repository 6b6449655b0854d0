//! The conformance cases, one module per rule family of the design, each
//! case an `async fn` named as the rule it proves.

/// Asserts that `$result` is an error matching `$pattern` and returns the error;
/// otherwise panics with the context, the expected pattern and what came back.
macro_rules! expect_err {
    ($result:expr, $pattern:pat, $($context:tt)+) => {
        match $result {
            Err(err) if matches!(err, $pattern) => err,
            other => panic!(
                "{}: expected Err({}), got {:?}",
                format_args!($($context)+),
                stringify!($pattern),
                other
            ),
        }
    };
}

/// `n` minutes: the cases count appointments and buffers in them.
fn minutes(n: i64) -> chrono::TimeDelta {
    chrono::TimeDelta::minutes(n)
}

pub mod availability;
pub mod cancel;
pub mod concurrency;
pub mod confirm;
pub mod expiry;
pub mod idempotency;
pub mod listing;
#[cfg(feature = "tz")]
pub mod published_schedules;
pub mod reschedule;
pub mod reservations;
pub mod reserve;
pub mod schedules;
pub mod services;
pub mod versions;
pub mod withdraw;

/// The suite's one list of cases, by group: hands `$callback` the list
/// after `$args`, as `group: [case, ...], ...`. Every case is
/// `cases::group::case`, an `async fn` over a [`Harness`](super::Harness).
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($callback:ident; $($args:tt)*) => {
        $crate::$callback! {
            ($($args)*)
            availability: [
                exact_window_becomes_its_slots,
                window_snaps_inward_to_the_sub_second,
                start_a_nanosecond_before_the_grid_rounds_up,
                end_a_nanosecond_short_of_a_slot_is_empty,
                window_end_not_after_start_is_invalid,
                window_without_a_whole_slot_is_empty,
                window_of_max_window_is_accepted_a_second_more_refused,
                window_ending_at_now_is_in_the_past,
                slots_before_now_are_dropped_and_the_slot_at_now_kept,
                window_ending_at_the_horizon_is_accepted_a_second_later_refused,
                repeated_submission_adds_nothing,
                overlapping_windows_merge,
                bad_window_rejects_the_whole_batch_naming_its_index,
                providers_are_isolated,
                re_adding_a_booked_slot_keeps_the_booking,
            ],
            listing: [
                slot_at_exactly_min_lead_is_listed_until_a_second_later,
                slots_are_ordered_by_start,
                default_page_is_fifty,
                page_limit_is_between_one_and_five_hundred,
                cursor_pages_miss_and_repeat_nothing,
                paging_survives_reservations_between_pages,
                held_and_confirmed_slots_are_not_listed,
                held_slot_reappears_exactly_at_expiry,
                cancelled_slot_reappears_at_once,
                range_includes_from_and_excludes_to,
                range_bounds_with_sub_seconds,
                range_end_not_after_start_is_invalid,
                garbage_cursor_is_invalid,
                cursors_do_not_cross_listings,
            ],
            reserve: [
                lead_of_exactly_min_lead_is_accepted,
                instants_are_kept_to_the_microsecond,
                lead_one_second_short_is_refused,
                unknown_slot_is_not_found,
                off_grid_slot_is_not_found,
                withdrawn_slot_is_not_found,
                held_slot_is_unavailable,
                confirmed_slot_is_unavailable,
                slot_is_reservable_exactly_when_its_hold_expires,
                cancelled_slot_is_reservable_again,
                new_hold_has_the_expected_fields,
            ],
            idempotency: [
                same_key_same_slot_replays,
                same_key_other_slot_conflicts,
                keys_are_scoped_per_client,
                replay_after_expiry_returns_the_expired_original,
                replay_of_settled_reservations_reports_them,
            ],
            confirm: [
                confirm_one_second_before_expiry,
                confirm_at_expiry_is_expired,
                confirm_after_sweep_is_expired,
                confirm_twice_returns_it_unchanged,
                confirm_cancelled_is_refused,
                confirm_by_another_client_is_forbidden,
                confirm_unknown_is_not_found,
                confirmed_never_expires,
                store_confirm_is_conditional_at_expiry,
            ],
            cancel: [
                client_cancels_a_hold_and_the_slot_is_free,
                provider_cancels_a_booking,
                strangers_cannot_cancel,
                cancelling_an_expired_hold_is_refused,
                cancel_twice_returns_it_unchanged,
                cancel_unknown_is_not_found,
                store_cancel_is_conditional_at_expiry,
            ],
            expiry: [
                sweep_marks_only_due_holds,
                sweep_one_second_early_expires_nothing,
                sweep_respects_its_batch,
                swept_hold_is_stored_expired_and_its_slot_free,
                sweeping_a_replaced_hold_keeps_the_new_one,
                a_displaced_hold_is_stored_expired_at_once,
                a_hold_on_a_republished_slot_retires_the_lapsed_one,
            ],
            withdraw: [
                withdraw_removes_free_slots_and_reports_conflicts,
                expired_hold_is_not_a_conflict,
                booking_survives_withdrawal,
                removed_slots_are_gone_and_the_range_is_half_open,
            ],
            reservations: [
                read_derives_expiry_without_sweep,
                reads_are_for_its_client_and_provider_only,
                provider_listing_has_every_status_in_order,
                client_listing_has_only_their_own,
                reservation_pages_miss_and_repeat_nothing,
                reservation_listing_range_is_half_open,
            ],
            concurrency: [
                many_clients_race_for_one_slot,
                many_clients_reserve_distinct_slots,
                same_key_at_once_makes_one_hold,
                same_key_on_different_slots_at_once_conflicts,
                concurrent_sweepers_expire_each_hold_once,
                many_clients_race_for_a_lapsed_hold,
                confirm_and_cancel_race_consistently,
                overlapping_services_race_and_never_overlap,
                reschedules_race_for_one_start,
                a_reschedule_races_a_new_hold_for_one_start,
            ],
            versions: [
                version_counts_only_writes_that_change_slots,
                stale_version_changes_nothing,
                current_version_applies,
                concurrent_writes_at_one_version_let_one_through,
                versioned_listing_matches_version_then_page,
            ],
            services: [
                services_are_kept_per_provider_by_id,
                invalid_service_is_refused_naming_the_field,
                service_starts_need_every_slot_of_the_appointment,
                buffers_need_no_availability_but_block_other_bookings,
                buffers_of_two_bookings_never_overlap,
                service_notice_is_the_stricter_of_policy_and_service,
                a_long_notice_is_kept_across_pages,
                service_horizon_is_the_stricter_of_policy_and_service,
                bookings_keep_their_spans_when_the_service_changes,
                a_lapsed_hold_in_the_way_is_retired_exactly_at_expiry,
                withdrawal_keeps_the_appointment_and_drops_its_buffers,
                service_listing_matches_a_slot_by_slot_check,
            ],
            reschedule: [
                reschedule_moves_the_claim_and_keeps_the_rest,
                reschedule_to_where_it_is_returns_it_unchanged,
                reschedule_may_overlap_its_own_time,
                reschedule_onto_another_booking_is_refused,
                reschedule_respects_notice,
                reschedule_across_kinds_is_a_mismatch,
                reschedule_of_a_settled_reservation_is_refused,
                reschedule_is_for_its_client_and_provider_only,
            ],
            schedules: [
                put_at_a_stale_version_is_refused,
                schedule_text_round_trips_exactly,
                due_is_strictly_before_and_oldest_first,
                advance_from_a_stale_through_is_refused,
                concurrent_advances_from_one_through_let_one_through,
                delete_forgets_the_schedule_and_keeps_the_slots,
            ],
        }
        $crate::__conformance_cases_tz!($callback; $($args)*);
    };
}

/// The cases that read a stored schedule back, which needs the time-zone
/// support (feature `tz`): listed when this crate has it, whatever the
/// features of the crate that runs the suite.
#[cfg(feature = "tz")]
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases_tz {
    ($callback:ident; $($args:tt)*) => {
        $crate::$callback! {
            ($($args)*)
            published_schedules: [
                set_schedule_stores_it_and_the_sweep_rolls_it,
                a_refused_or_cleared_schedule_is_not_rolled,
                a_schedule_across_dst_stores_its_exact_expansion,
            ],
        }
    };
}

/// Without the time-zone support there are no such cases.
#[cfg(not(feature = "tz"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases_tz {
    ($callback:ident; $($args:tt)*) => {};
}
