//! The one read-change-replace loop: a change is written with the resourceVersion it read,
//! and made again on a fresh read when someone else wrote the object in between (HTTP 409).

use super::client::{code, describe};

/// How often a change is tried before the step gives up on an object that keeps changing.
pub const CONFLICT_ATTEMPTS: usize = 5;

/// Why a change was not written.
#[derive(Debug, PartialEq)]
pub struct NotWritten {
    /// One line for the step's error.
    pub message: String,
    /// The HTTP status of the write the API server refused, when a refusal ended it (a
    /// refused write changed nothing); `None` when the attempt failed before writing or
    /// the server never answered.
    pub refused: Option<u16>,
}

/// Runs `attempt` (read, change, write) until its write is anything but a conflict, at most
/// [`CONFLICT_ATTEMPTS`] times. `attempt` fails with its own message before it writes (the
/// read failed, the change is refused); otherwise it returns the write's answer, which is
/// described as `what` when it is an error. Each attempt reads afresh, so the change (and
/// the undo captured from it) applies to exactly the state that was replaced.
pub async fn retry_on_conflict<T, F, A>(what: &str, mut attempt: A) -> Result<T, NotWritten>
where
    // Not an `AsyncFnMut`: the futures of async closures cannot yet be shown `Send` for
    // every lifetime, which a step's task needs.
    A: FnMut() -> F,
    F: Future<Output = Result<Result<T, kube::Error>, String>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        let written = attempt()
            .await
            .map_err(|message| NotWritten { message, refused: None })?;
        match written {
            Ok(t) => return Ok(t),
            Err(e) if code(&e) == Some(409) && tries < CONFLICT_ATTEMPTS => continue,
            Err(e) if code(&e) == Some(409) => {
                return Err(NotWritten {
                    message: format!(
                        "{}; it kept changing under us ({CONFLICT_ATTEMPTS} attempts)",
                        describe(what, &e)
                    ),
                    refused: Some(409),
                });
            }
            Err(e) => {
                return Err(NotWritten {
                    message: describe(what, &e),
                    refused: code(&e),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn refusal(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(Status::failure(message, reason).with_code(code).boxed())
    }

    fn conflict() -> kube::Error {
        refusal(
            409,
            "Conflict",
            "Operation cannot be fulfilled: the object has been modified",
        )
    }

    #[tokio::test]
    async fn a_conflict_is_tried_again_on_a_fresh_attempt() {
        let tries = AtomicUsize::new(0);
        let done = retry_on_conflict("scale deployment/web in prod", || async {
            let n = tries.fetch_add(1, Ordering::Relaxed) + 1;
            Ok(if n < 3 { Err(conflict()) } else { Ok(n) })
        })
        .await;
        assert_eq!(done, Ok(3));
    }

    #[tokio::test]
    async fn an_object_that_keeps_changing_is_given_up_on_in_the_documented_words() {
        let tries = AtomicUsize::new(0);
        let gave_up = retry_on_conflict::<(), _, _>("scale deployment/web in prod", || async {
            tries.fetch_add(1, Ordering::Relaxed);
            Ok(Err(conflict()))
        })
        .await;
        assert_eq!(tries.into_inner(), CONFLICT_ATTEMPTS);
        // docs/actions.md, "someone keeps writing the object".
        assert_eq!(
            gave_up,
            Err(NotWritten {
                message: "scale deployment/web in prod: conflict (Operation cannot be fulfilled: the object has been modified); it kept changing under us (5 attempts)".into(),
                refused: Some(409),
            })
        );
    }

    #[tokio::test]
    async fn other_refusals_and_failures_before_the_write_end_at_once() {
        let tries = AtomicUsize::new(0);
        let forbidden = retry_on_conflict::<(), _, _>("set image of deployment/web in prod", || async {
            tries.fetch_add(1, Ordering::Relaxed);
            Ok(Err(refusal(403, "Forbidden", "no")))
        })
        .await;
        assert_eq!(tries.into_inner(), 1);
        assert_eq!(
            forbidden,
            Err(NotWritten {
                message: "set image of deployment/web in prod: forbidden (no)".into(),
                refused: Some(403),
            })
        );
        let unread = retry_on_conflict::<(), _, _>("x", || async { Err("cannot read it".to_string()) }).await;
        assert_eq!(
            unread,
            Err(NotWritten {
                message: "cannot read it".into(),
                refused: None,
            })
        );
    }
}
