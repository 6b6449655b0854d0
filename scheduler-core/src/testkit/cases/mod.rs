//! The conformance cases, one module per rule family of the design.

mod availability;

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
    cases![
        availability::exact_window_becomes_its_slots,
        availability::window_snaps_inward_to_the_sub_second,
    ]
}
