//! The conformance cases, one module per rule family of the design.

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

mod availability;
mod cancel;
mod concurrency;
mod confirm;
mod expiry;
mod feeds;
mod idempotency;
mod listing;
mod reservations;
mod reserve;
mod schedules;
mod versions;
mod withdraw;

use super::Case;
use crate::store::Store;

macro_rules! cases {
    ($($group:ident :: $name:ident),* $(,)?) => {
        vec![$(Case {
            name: concat!(stringify!($group), "::", stringify!($name)),
            run: |harness| Box::pin($group::$name(harness)),
        }),*]
    };
}

pub(super) fn all<S: Store + 'static>() -> Vec<Case<S>> {
    #[allow(unused_mut)] // Extended only with the `tz` feature.
    let mut cases = cases![
        availability::exact_window_becomes_its_slots,
        availability::window_snaps_inward_to_the_sub_second,
        availability::start_a_nanosecond_before_the_grid_rounds_up,
        availability::end_a_nanosecond_short_of_a_slot_is_empty,
        availability::window_end_not_after_start_is_invalid,
        availability::window_without_a_whole_slot_is_empty,
        availability::window_of_max_window_is_accepted_a_second_more_refused,
        availability::window_ending_at_now_is_in_the_past,
        availability::slots_before_now_are_dropped_and_the_slot_at_now_kept,
        availability::window_ending_at_the_horizon_is_accepted_a_second_later_refused,
        availability::repeated_submission_adds_nothing,
        availability::overlapping_windows_merge,
        availability::bad_window_rejects_the_whole_batch_naming_its_index,
        availability::providers_are_isolated,
        availability::re_adding_a_booked_slot_keeps_the_booking,
        listing::slot_at_exactly_min_lead_is_listed_until_a_second_later,
        listing::slots_are_ordered_by_start,
        listing::default_page_is_fifty,
        listing::page_limit_is_between_one_and_five_hundred,
        listing::cursor_pages_miss_and_repeat_nothing,
        listing::paging_survives_reservations_between_pages,
        listing::held_and_confirmed_slots_are_not_listed,
        listing::held_slot_reappears_exactly_at_expiry,
        listing::cancelled_slot_reappears_at_once,
        listing::range_includes_from_and_excludes_to,
        listing::range_bounds_with_sub_seconds,
        listing::range_end_not_after_start_is_invalid,
        listing::garbage_cursor_is_invalid,
        listing::cursors_do_not_cross_listings,
        reserve::lead_of_exactly_min_lead_is_accepted,
        reserve::instants_are_kept_to_the_microsecond,
        reserve::lead_one_second_short_is_refused,
        reserve::unknown_slot_is_not_found,
        reserve::off_grid_slot_is_not_found,
        reserve::withdrawn_slot_is_not_found,
        reserve::held_slot_is_unavailable,
        reserve::confirmed_slot_is_unavailable,
        reserve::slot_is_reservable_exactly_when_its_hold_expires,
        reserve::cancelled_slot_is_reservable_again,
        reserve::new_hold_has_the_expected_fields,
        idempotency::same_key_same_slot_replays,
        idempotency::same_key_other_slot_conflicts,
        idempotency::keys_are_scoped_per_client,
        idempotency::replay_after_expiry_returns_the_expired_original,
        idempotency::replay_of_settled_reservations_reports_them,
        confirm::confirm_one_second_before_expiry,
        confirm::confirm_at_expiry_is_expired,
        confirm::confirm_after_sweep_is_expired,
        confirm::confirm_twice_returns_it_unchanged,
        confirm::confirm_cancelled_is_refused,
        confirm::confirm_by_another_client_is_forbidden,
        confirm::confirm_unknown_is_not_found,
        confirm::confirmed_never_expires,
        confirm::store_confirm_is_conditional_at_expiry,
        cancel::client_cancels_a_hold_and_the_slot_is_free,
        cancel::provider_cancels_a_booking,
        cancel::strangers_cannot_cancel,
        cancel::cancelling_an_expired_hold_is_refused,
        cancel::cancel_twice_returns_it_unchanged,
        cancel::cancel_unknown_is_not_found,
        cancel::store_cancel_is_conditional_at_expiry,
        expiry::sweep_marks_only_due_holds,
        expiry::sweep_one_second_early_expires_nothing,
        expiry::sweep_respects_its_batch,
        expiry::swept_hold_is_stored_expired_and_its_slot_free,
        expiry::sweeping_a_replaced_hold_keeps_the_new_one,
        expiry::a_displaced_hold_is_stored_expired_at_once,
        expiry::a_hold_on_a_republished_slot_retires_the_lapsed_one,
        withdraw::withdraw_removes_free_slots_and_reports_conflicts,
        withdraw::expired_hold_is_not_a_conflict,
        withdraw::booking_survives_withdrawal,
        withdraw::removed_slots_are_gone_and_the_range_is_half_open,
        reservations::read_derives_expiry_without_sweep,
        reservations::reads_are_for_its_client_and_provider_only,
        reservations::provider_listing_has_every_status_in_order,
        reservations::client_listing_has_only_their_own,
        reservations::reservation_pages_miss_and_repeat_nothing,
        reservations::reservation_listing_range_is_half_open,
        concurrency::many_clients_race_for_one_slot,
        concurrency::many_clients_reserve_distinct_slots,
        concurrency::same_key_at_once_makes_one_hold,
        concurrency::same_key_on_different_slots_at_once_conflicts,
        concurrency::concurrent_sweepers_expire_each_hold_once,
        concurrency::many_clients_race_for_a_lapsed_hold,
        concurrency::confirm_and_cancel_race_consistently,
        versions::version_counts_only_writes_that_change_slots,
        versions::stale_version_changes_nothing,
        versions::current_version_applies,
        versions::concurrent_writes_at_one_version_let_one_through,
        versions::versioned_listing_matches_version_then_page,
        schedules::put_at_a_stale_version_is_refused,
        schedules::schedule_text_round_trips_exactly,
        schedules::due_is_strictly_before_and_oldest_first,
        schedules::advance_from_a_stale_through_is_refused,
        schedules::concurrent_advances_from_one_through_let_one_through,
        schedules::delete_forgets_the_schedule_and_keeps_the_slots,
        feeds::issued_token_is_checked_by_provider_and_digest,
        feeds::a_token_id_is_issued_once,
        feeds::tokens_list_oldest_first_per_provider,
        feeds::revoked_token_stops_working_and_keeps_its_first_instant,
        feeds::concurrent_issues_of_one_id_store_one,
    ];
    // Reading a stored schedule back needs the time-zone support.
    #[cfg(feature = "tz")]
    cases.extend(cases![
        schedules::set_schedule_stores_it_and_the_sweep_rolls_it,
        schedules::a_refused_or_cleared_schedule_is_not_rolled,
        schedules::a_schedule_across_dst_stores_its_exact_expansion,
    ]);
    cases
}
