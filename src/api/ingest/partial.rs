//! Batches taken event by event, as PostHog's capture and OTLP take them
//! (unlike `/v1/events`, which is all or nothing): the valid events are
//! stored and the others listed in the answer; a batch without one valid
//! event is refused whole (nothing stored).

use serde::Serialize;

use crate::domain::batch::{BatchError, MAX_REPORTED_ERRORS};
use crate::domain::event::Event;
use crate::domain::raw_event::RawEvent;
use crate::domain::validate::{AcceptWindow, FieldError, validate_event};

/// The events of a batch, the valid ones converted.
pub struct Converted<'a> {
    pub events: Vec<Event<'a>>,
    pub refused: Refused,
}

/// The events left out, as the answer lists them.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Refused {
    /// The first [`MAX_REPORTED_ERRORS`] problems.
    pub errors: Vec<FieldError>,
    pub errors_total: usize,
    /// The events left out (one may have several problems).
    #[serde(skip)]
    pub events: usize,
}

/// Validates `events` (in batch order; an `Err` is an event refused before
/// validation) against `window`, naming each problem's field as the sender
/// knows it (`field_name` of highwater's name).
pub fn keep_valid<'a>(
    events: impl IntoIterator<Item = Result<RawEvent<'a>, FieldError>>,
    window: &AcceptWindow,
    field_name: impl Fn(&str) -> String,
) -> Result<Converted<'a>, BatchError> {
    let events = events.into_iter();
    let mut valid = Vec::with_capacity(events.size_hint().0);
    let mut errors = Vec::new();
    let mut total = 0;
    let mut refused = 0;
    for (index, event) in events.enumerate() {
        let before = errors.len();
        match event {
            Ok(raw) => {
                if let Some(event) = validate_event(raw, index, window, &mut errors) {
                    valid.push(event);
                }
            }
            Err(refused) => errors.push(refused),
        }
        for error in &mut errors[before..] {
            error.field = field_name(&error.field);
        }
        total += errors.len() - before;
        refused += usize::from(errors.len() > before);
        errors.truncate(MAX_REPORTED_ERRORS);
    }
    if valid.is_empty() {
        return Err(BatchError::Invalid { errors, total });
    }
    Ok(Converted {
        events: valid,
        refused: Refused {
            errors,
            errors_total: total,
            events: refused,
        },
    })
}
