//! Answering ordinary text: store it, build the prompt, stream the model's answer.

use futures::StreamExt;
use tokio::time::Instant;

use super::{HISTORY_WINDOW, Inner, Reply};
use crate::model::{ChatRequest, ModelError, Role};
use crate::prompt::{self, PromptInput};
use crate::retrieve::{ContextGroup, Passage, Query};
use crate::sources;
use crate::store::{StoreError, StoredTurn};
use crate::think::ThinkFilter;
use crate::types::{InboundMessage, ReplyEvent, TurnRef};

/// A finished exchange, for automatic memory capture.
pub(super) struct Exchange {
    pub(super) message: InboundMessage,
    pub(super) answer: String,
}

/// What came of generating an answer.
enum Generated {
    /// The user was already told why there is no answer (model down, too long, busy).
    Replied,
    /// The model answered (perhaps partly).
    Answer {
        model: String,
        answer: String,
        ending: Ending,
        /// The passages to cite that were in the prompt.
        cited: Vec<Passage>,
    },
}

/// How a model stream ended.
enum Ending {
    Complete,
    Failed(ModelError),
    Cancelled,
}

impl Inner {
    pub(super) async fn answer(
        &self,
        message: &InboundMessage,
        reply: &Reply,
    ) -> Result<Option<Exchange>, StoreError> {
        let text = message.text.trim();
        if text.is_empty() {
            let note = if message.attachments.is_empty() {
                "Send me some text and I will answer."
            } else {
                "I can only read text messages so far. Please write your question."
            };
            reply.finish(note).await;
            return Ok(None);
        }
        let chars = text.chars().count();
        if chars > self.config.max_input_chars {
            tracing::info!(
                chars,
                limit = self.config.max_input_chars,
                "refused an oversized message"
            );
            reply
                .finish(format!(
                    "That message is too long ({chars} characters; the limit is {}). \
                     Please shorten it or send it in parts.",
                    self.config.max_input_chars
                ))
                .await;
            return Ok(None);
        }

        let scope = message.scope();
        let user_turn = self.turn(
            Role::User,
            text,
            message.message_id.iter().cloned().collect(),
        );
        // For an active conversation both come from the write-through caches in front of
        // storage (`store::cache`): no storage round trip before the model request.
        let user_key = message.user_key();
        let (mut history, settings) = tokio::try_join!(
            self.deps.history.recent(&scope, HISTORY_WINDOW - 1),
            self.deps.settings.settings(&user_key),
        )?;
        history.push(StoredTurn {
            // Not stored yet; the prompt does not use sequence numbers.
            seq: u64::MAX,
            turn: user_turn.clone(),
        });
        // The user's turn is stored once the model request is out (or generating ended
        // without one), while the model evaluates the prompt: storage work never delays the
        // request. The answer is recorded after it and shown as final only once both are on
        // disk (jobs of one conversation never overlap, so nothing else writes meanwhile).
        let (request_out, out) = tokio::sync::oneshot::channel::<()>();
        let save_user = async {
            let _ = out.await;
            self.deps.history.append(&scope, user_turn).await
        };
        let (saved, generated) = tokio::join!(
            save_user,
            self.generate(message, text, &settings, &history, reply, request_out),
        );
        let (model, answer, ending, cited) = match (saved, generated) {
            (
                Ok(_),
                Generated::Answer {
                    model,
                    answer,
                    ending,
                    cited,
                },
            ) => (model, answer, ending, cited),
            (Ok(_), Generated::Replied) => return Ok(None),
            // The user was already told why there is no answer; the storage error is logged.
            (Err(e), Generated::Replied) => {
                tracing::error!(error = %e, scope = %scope, "storage failed while handling a message");
                return Ok(None);
            }
            (Err(e), Generated::Answer { .. }) => return Err(e),
        };

        let visible = match &ending {
            Ending::Complete if answer.trim().is_empty() => {
                "(The model returned an empty answer.)".to_owned()
            }
            Ending::Complete => {
                let cited: Vec<&Passage> = cited.iter().collect();
                match sources::line(&sources::used(&answer, text, &cited)) {
                    Some(line) => format!("{answer}\n\n{line}"),
                    None => answer.clone(),
                }
            }
            Ending::Cancelled => format!("{answer}\n\n_(stopped: the bot is shutting down)_"),
            Ending::Failed(e) if answer.is_empty() => {
                tracing::warn!(error = %e, model = %model, "model request failed");
                reply.fail(e.user_message()).await;
                return Ok(None);
            }
            Ending::Failed(e) => {
                tracing::warn!(error = %e, model = %model, "model stream broke off");
                format!("{answer}\n\n⚠️ {}", e.user_message())
            }
        };
        let seq = self
            .record(&scope, Role::Assistant, &answer, Vec::new())
            .await?;
        self.flush().await?;
        let turn = TurnRef { scope, seq };
        reply
            .send(ReplyEvent::Finished {
                text: visible,
                turn: Some(turn),
            })
            .await;
        let learn = matches!(ending, Ending::Complete) && !answer.trim().is_empty();
        Ok(learn.then(|| Exchange {
            message: message.clone(),
            answer,
        }))
    }

    /// Builds the prompt, waits for a model slot and streams the answer to `reply`.
    /// `Replied` when the user was already told why there is no answer.
    async fn generate(
        &self,
        message: &InboundMessage,
        text: &str,
        settings: &crate::store::UserSettings,
        history: &[StoredTurn],
        reply: &Reply,
        request_out: tokio::sync::oneshot::Sender<()>,
    ) -> Generated {
        let model = settings
            .model
            .clone()
            .unwrap_or_else(|| self.config.default_model.clone());

        let context_tokens = match self.context_tokens(&model).await {
            Ok(tokens) => tokens,
            Err(e) => {
                tracing::warn!(error = %e, model = %model, "model server unavailable");
                reply.fail(e.user_message()).await;
                return Generated::Replied;
            }
        };
        let context = self.retrieve_context(message, settings, text).await;
        let input = PromptInput {
            system_prompt: &self.config.system_prompt,
            display_name: &message.display_name,
            history,
            context: &context,
            now: self.deps.clock.now(),
            budget_tokens: prompt::prompt_budget(context_tokens),
        };
        let cited: Vec<Passage> = prompt::cited_passages(&input)
            .into_iter()
            .cloned()
            .collect();
        let messages = match prompt::assemble(&input) {
            Ok(messages) => messages,
            Err(e) => {
                tracing::info!(error = %e, "message does not fit the context window");
                reply
                    .finish(format!(
                        "That message is too long for the model's context window (about {} tokens, {} available). \
                         Please shorten it.",
                        e.needed, e.available
                    ))
                    .await;
                return Generated::Replied;
            }
        };
        let request = ChatRequest {
            model: model.clone(),
            messages,
            num_ctx: Some(context_tokens),
            format: None,
            num_predict: Some(self.config.max_answer_tokens),
        };

        let Some(_slot) = self.acquire_slot(reply).await else {
            reply
                .fail("I am busy with many requests right now. Please try again in a few minutes.")
                .await;
            return Generated::Replied;
        };
        reply.send(ReplyEvent::Started).await;
        let started = Instant::now();
        let (answer, ending) = self.stream_answer(request, reply, request_out).await;
        tracing::info!(model = %model, elapsed_ms = started.elapsed().as_millis() as u64, chars = answer.len(), "answered");
        Generated::Answer {
            model,
            answer,
            ending,
            cited,
        }
    }

    /// Context for the prompt from every retriever, in their order; a failing one is
    /// logged and skipped so the answer goes on without it.
    async fn retrieve_context(
        &self,
        message: &InboundMessage,
        settings: &crate::store::UserSettings,
        text: &str,
    ) -> Vec<ContextGroup> {
        let user = message.user_key();
        let query = Query {
            user: &user,
            display_name: &message.display_name,
            text,
            shared_chat: message.chat.is_shared,
            personal_in_shared: settings.memory_in_shared,
            notes_enabled: !settings.notes_off,
        };
        let mut groups = Vec::new();
        for retriever in &self.deps.retrievers {
            match retriever.retrieve(&query).await {
                Ok(Some(group)) => groups.push(group),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "a retriever failed; answering without it"),
            }
        }
        groups
    }

    /// The context window to ask for: the model's own, capped by configuration.
    async fn context_tokens(&self, model: &str) -> Result<u64, ModelError> {
        if let Some(&tokens) = self
            .context_sizes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(model)
        {
            return Ok(tokens);
        }
        let info = self.deps.model.model_info(model).await?;
        let tokens = info
            .context_length
            .unwrap_or(self.config.fallback_context_tokens)
            .min(self.config.max_context_tokens);
        self.context_sizes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(model.to_owned(), tokens);
        Ok(tokens)
    }

    /// Streams the answer to `reply`; returns the visible text and how it ended.
    /// `request_out` fires once the model server has the request.
    async fn stream_answer(
        &self,
        request: ChatRequest,
        reply: &Reply,
        request_out: tokio::sync::oneshot::Sender<()>,
    ) -> (String, Ending) {
        let mut filter = (!self.config.show_thinking).then(ThinkFilter::new);
        let mut answer = String::new();
        let deadline = Instant::now() + self.config.first_token_timeout;
        let mut stream = match self
            .first_wait(self.deps.model.chat(request), deadline, reply)
            .await
        {
            Ok(Ok(stream)) => {
                let _ = request_out.send(());
                stream
            }
            Ok(Err(e)) => return (answer, Ending::Failed(e)),
            Err(ending) => return (answer, ending),
        };
        let mut first = true;
        loop {
            let next = if first {
                self.first_wait(stream.next(), deadline, reply).await
            } else {
                tokio::select! {
                    _ = self.cancel.cancelled() => Err(Ending::Cancelled),
                    next = tokio::time::timeout(self.config.idle_timeout, stream.next()) => {
                        next.map_err(|_| Ending::Failed(ModelError::Timeout(self.config.idle_timeout)))
                    }
                }
            };
            let piece = match next {
                Ok(Some(Ok(piece))) => piece,
                Ok(Some(Err(e))) => return (answer, Ending::Failed(e)),
                Ok(None) => break,
                Err(ending) => return (answer, ending),
            };
            first = false;
            let visible = match filter.as_mut() {
                Some(f) => f.push(&piece),
                None => piece,
            };
            if !visible.is_empty() {
                answer.push_str(&visible);
                reply.send(ReplyEvent::Delta(visible)).await;
            }
        }
        if let Some(rest) = filter
            .as_mut()
            .map(ThinkFilter::finish)
            .filter(|r| !r.is_empty())
        {
            answer.push_str(&rest);
            reply.send(ReplyEvent::Delta(rest)).await;
        }
        (answer, Ending::Complete)
    }

    /// Waits for `fut` until `deadline`, telling the user when the model seems to be loading.
    async fn first_wait<T>(
        &self,
        fut: impl Future<Output = T>,
        deadline: Instant,
        reply: &Reply,
    ) -> Result<T, Ending> {
        tokio::pin!(fut);
        let notice = tokio::time::sleep(self.config.loading_notice_after);
        tokio::pin!(notice);
        let mut noticed = false;
        loop {
            tokio::select! {
                out = &mut fut => return Ok(out),
                _ = self.cancel.cancelled() => return Err(Ending::Cancelled),
                _ = tokio::time::sleep_until(deadline) => {
                    let limit = self.config.first_token_timeout;
                    return Err(Ending::Failed(ModelError::Timeout(limit)));
                }
                _ = &mut notice, if !noticed => {
                    noticed = true;
                    reply.send(ReplyEvent::Status("Loading the model, this can take a minute…".into())).await;
                }
            }
        }
    }
}
