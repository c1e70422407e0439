//! Answering ordinary text: store it, build the prompt, stream the model's answer.

use futures::StreamExt;
use tokio::time::Instant;

use super::{HISTORY_WINDOW, Inner, ModelFacts, Reply, tools};
use crate::lang;
use crate::model::{ChatPiece, ChatRequest, ModelError, PromptMessage, Role, ToolCall};
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

/// What comes with a message besides its text: pictures, a document to summarize.
#[derive(Default)]
pub(super) struct Attached {
    /// What the conversation keeps of the message instead of its text (`[photo: …]`).
    pub(super) stored_text: Option<String>,
    /// Pictures for the model, base64.
    pub(super) pictures: Vec<String>,
    /// Answer with this model instead of the person's (a vision model for pictures).
    pub(super) model: Option<String>,
    /// The message asks for a summary of the newest document.
    pub(super) summarize: bool,
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
        /// The passages to cite that were in the prompt or came from tools.
        cited: Vec<Passage>,
        /// One line per tool run, shown above the answer.
        tools: Vec<String>,
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
        self.answer_with(message, reply, Attached::default()).await
    }

    /// Answers `message` with what came attached to it.
    pub(super) async fn answer_with(
        &self,
        message: &InboundMessage,
        reply: &Reply,
        attached: Attached,
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
            attached.stored_text.as_deref().unwrap_or(text),
            message.message_id.iter().cloned().collect(),
        );
        if !attached.pictures.is_empty() {
            self.remember_pictures(&scope, user_turn.at, attached.pictures);
        }
        // For an active conversation both come from the write-through caches in front of
        // storage (`store::cache`): no storage round trip before the model request.
        let user_key = message.user_key();
        let (mut history, settings) = tokio::try_join!(
            self.deps.history.recent(&scope, HISTORY_WINDOW - 1),
            self.deps.settings.settings(&user_key),
        )?;
        // The same platform message again, its turn stored and no answer after it: the bot
        // was stopped while answering it and answers it now (Telegram's inbox). Its turn is
        // not stored twice, nor shown to the model twice.
        let again = !user_turn.message_ids.is_empty()
            && history.last().is_some_and(|last| {
                last.turn.role == Role::User && last.turn.message_ids == user_turn.message_ids
            });
        if again {
            history.pop();
        }
        history.push(StoredTurn {
            // Not stored yet; the prompt does not use sequence numbers.
            seq: u64::MAX,
            // The model reads the question (a picture's caption, or the default prompt).
            turn: crate::store::Turn {
                text: text.to_owned(),
                ..user_turn.clone()
            },
        });
        // The user's turn is stored once the model request is out (or generating ended
        // without one), while the model evaluates the prompt: storage work never delays the
        // request. The answer is recorded after it and shown as final only once both are on
        // disk (jobs of one conversation never overlap, so nothing else writes meanwhile).
        let (request_out, out) = tokio::sync::oneshot::channel::<()>();
        let save_user = async {
            let _ = out.await;
            if again {
                return Ok(0);
            }
            self.deps.history.append(&scope, user_turn).await
        };
        let (saved, generated) = tokio::join!(
            save_user,
            self.generate(
                message,
                &settings,
                &history,
                reply,
                request_out,
                (attached.model.as_deref(), attached.summarize)
            ),
        );
        let (model, answer, ending, cited, tools) = match (saved, generated) {
            (
                Ok(_),
                Generated::Answer {
                    model,
                    answer,
                    ending,
                    cited,
                    tools,
                },
            ) => (model, answer, ending, cited, tools),
            (Ok(_), Generated::Replied) => return Ok(None),
            // The user was already told why there is no answer; the storage error is logged.
            (Err(e), Generated::Replied) => {
                tracing::error!(error = %e, scope = %scope, "storage failed while handling a message");
                return Ok(None);
            }
            (Err(e), Generated::Answer { .. }) => return Err(e),
        };

        let lang = self.lang_of(message, settings.language.as_deref());
        let visible = match &ending {
            Ending::Complete if answer.trim().is_empty() => lang::t(lang, "answer-empty"),
            Ending::Complete => {
                let cited: Vec<&Passage> = cited.iter().collect();
                match sources::line(&sources::used(&answer, text, &cited), lang) {
                    Some(line) => format!("{answer}\n\n{line}"),
                    None => answer.clone(),
                }
            }
            Ending::Cancelled => format!("{answer}\n\n{}", lang::t(lang, "answer-stopped")),
            Ending::Failed(e) if answer.is_empty() && tools.is_empty() => {
                tracing::warn!(error = %e, model = %model, "model request failed");
                reply.fail(e.user_message(lang)).await;
                return Ok(None);
            }
            Ending::Failed(e) => {
                tracing::warn!(error = %e, model = %model, "model stream broke off");
                format!("{answer}\n\n⚠️ {}", e.user_message(lang))
            }
        };
        let visible = if tools.is_empty() {
            visible
        } else {
            format!("{}\n\n{visible}", tools.join("\n"))
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
        settings: &crate::store::UserSettings,
        history: &[StoredTurn],
        reply: &Reply,
        request_out: tokio::sync::oneshot::Sender<()>,
        (model_override, summarize): (Option<&str>, bool),
    ) -> Generated {
        let text = message.text.trim();
        let model = model_override
            .map(str::to_owned)
            .or_else(|| settings.model.clone())
            .unwrap_or_else(|| self.config.default_model.clone());

        let facts = match self.model_facts(&model).await {
            Ok(facts) => facts,
            Err(e) => {
                tracing::warn!(error = %e, model = %model, "model server unavailable");
                reply
                    .fail(e.user_message(self.lang_of(message, settings.language.as_deref())))
                    .await;
                return Generated::Replied;
            }
        };
        let lang = self.lang_of(message, settings.language.as_deref());
        if self.deps.memories.embedder().is_some_and(|e| !e.ready()) {
            // Just started: the memory model is still loading and the search waits for it.
            reply
                .send(ReplyEvent::Status(crate::lang::t(
                    lang,
                    "memory-model-loading",
                )))
                .await;
        }
        let context = self
            .retrieve_context(message, settings, text, summarize)
            .await;
        // Pictures go only to a model that can see (the vision model answering a picture
        // may not be the one answering the next text).
        let pictures = if facts.vision || model_override.is_some() {
            self.pictures_of(&message.scope())
        } else {
            Vec::new()
        };
        let language =
            crate::lang::answer_instruction(settings.language.as_deref(), self.config.language);
        let input = PromptInput {
            system_prompt: &self.config.system_prompt,
            display_name: &message.display_name,
            history,
            context: &context,
            now: self.deps.clock.now(),
            zone: super::reminders::zone_of(
                settings.timezone.as_deref(),
                self.config.default_timezone,
            ),
            language: &language,
            budget_tokens: prompt::prompt_budget(facts.context_tokens),
            pictures: &pictures,
        };
        let mut cited: Vec<Passage> = prompt::cited_passages(&input)
            .into_iter()
            .cloned()
            .collect();
        let messages = match prompt::assemble(&input) {
            Ok(messages) => messages,
            Err(e) => {
                tracing::info!(error = %e, "message does not fit the context window");
                reply
                    .finish(crate::lang::tr(
                        lang,
                        "too-long",
                        &[
                            ("needed", &e.needed.to_string()),
                            ("available", &e.available.to_string()),
                        ],
                    ))
                    .await;
                return Generated::Replied;
            }
        };
        let tools = if self.config.tools && facts.tools {
            self.tool_specs(message, settings, reply.can_ask)
        } else {
            Vec::new()
        };
        let request = ChatRequest {
            model: model.clone(),
            messages,
            num_ctx: Some(facts.context_tokens),
            format: None,
            num_predict: Some(self.config.max_answer_tokens),
            tools,
        };

        let Some(slot) = self.acquire_slot(reply, lang).await else {
            reply.fail(crate::lang::t(lang, "busy")).await;
            return Generated::Replied;
        };
        reply.send(ReplyEvent::Started).await;
        let started = Instant::now();
        let mut slot = Some(slot);
        let mut request_out = Some(request_out);
        let mut request = request;
        let mut answer = String::new();
        let mut shown = Vec::new();
        let mut ran: Vec<((String, String), String)> = Vec::new();
        let mut round = 0;
        let ending = loop {
            let (text, ending, calls) = self
                .stream_answer(request.clone(), reply, lang, &mut request_out)
                .await;
            if let Ending::Failed(ModelError::ToolsUnsupported(why)) = &ending
                && !request.tools.is_empty()
            {
                // The server knows better than its `capabilities`: ask again without tools.
                tracing::info!(model = %model, reason = %why, "the model cannot call tools; answering without them");
                self.no_tools(&model);
                request.tools.clear();
                continue;
            }
            answer.push_str(&text);
            if calls.is_empty() || !matches!(ending, Ending::Complete) {
                break ending;
            }
            round += 1;
            // Waiting for a tap must not hold a model slot others need.
            if calls.iter().any(|c| self.needs_approval(&c.name)) {
                slot = None;
            }
            request
                .messages
                .push(PromptMessage::tool_request(text, calls.clone()));
            let mut repeats = 0;
            for (i, call) in calls.iter().enumerate() {
                // A call made before in this answer is not run again (small models loop):
                // the model gets the earlier result and is asked to answer.
                let key = (call.name.clone(), call.arguments.to_string());
                let earlier = ran.iter().find(|(k, _)| *k == key).map(|(_, r)| r.clone());
                let run = if let Some(result) = earlier {
                    repeats += 1;
                    tools::ToolRun::refused(format!(
                        "Already done above; its result was: {result}\nAnswer the person now."
                    ))
                } else if i < tools::MAX_CALLS_PER_ROUND {
                    let run = self.run_tool(message, settings, call, reply).await;
                    ran.push((key, run.result.clone()));
                    run
                } else {
                    tools::ToolRun {
                        result: "Not run: too many tool calls at once.".into(),
                        shown: String::new(),
                        cited: Vec::new(),
                    }
                };
                if !run.shown.is_empty() {
                    reply
                        .send(ReplyEvent::Delta(format!("{}\n\n", run.shown)))
                        .await;
                    shown.push(run.shown);
                }
                cited.extend(run.cited);
                request
                    .messages
                    .push(PromptMessage::tool_result(call, run.result));
            }
            if slot.is_none() {
                slot = Some(
                    self.slots
                        .acquire()
                        .await
                        .expect("the semaphore is never closed"),
                );
            }
            if round >= tools::MAX_TOOL_ROUNDS || repeats == calls.len() {
                // Enough tools, or only repeats: the next answer has to be in words.
                request.tools.clear();
            }
        };
        tracing::info!(model = %model, elapsed_ms = started.elapsed().as_millis() as u64, chars = answer.len(), tool_runs = shown.len(), "answered");
        if self.config.log_content {
            tracing::debug!(answer = %answer, "answer");
        }
        Generated::Answer {
            model,
            answer,
            ending,
            cited,
            tools: shown,
        }
    }

    /// Context for the prompt from every retriever, in their order; a failing one is
    /// logged and skipped so the answer goes on without it.
    async fn retrieve_context(
        &self,
        message: &InboundMessage,
        settings: &crate::store::UserSettings,
        text: &str,
        summarize: bool,
    ) -> Vec<ContextGroup> {
        let user = message.user_key();
        let scope = message.scope();
        let query = Query {
            user: &user,
            scope: &scope,
            summarize,
            display_name: &message.display_name,
            text,
            shared_chat: message.chat.is_shared,
            personal_in_shared: settings.memory_in_shared,
            notes_enabled: !settings.notes_off,
        };
        let mut groups = Vec::new();
        let documents: &dyn crate::retrieve::Retriever = &self.document_retriever;
        let retrievers =
            std::iter::once(documents).chain(self.deps.retrievers.iter().map(|r| &**r));
        for retriever in retrievers {
            match retriever.retrieve(&query).await {
                Ok(Some(group)) => groups.push(group),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "a retriever failed; answering without it"),
            }
        }
        groups
    }

    /// The context window to ask for (the model's own, capped by configuration) and
    /// whether the model can call tools; asked once per model.
    pub(super) async fn model_facts(&self, model: &str) -> Result<ModelFacts, ModelError> {
        if let Some(&facts) = self
            .model_facts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(model)
        {
            return Ok(facts);
        }
        let info = self.deps.model.model_info(model).await?;
        let facts = ModelFacts {
            context_tokens: info
                .context_length
                .unwrap_or(self.config.fallback_context_tokens)
                .min(self.config.max_context_tokens),
            tools: info.tools,
            vision: info.vision,
        };
        self.model_facts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(model.to_owned(), facts);
        Ok(facts)
    }

    /// Remembers that `model` refused tools.
    fn no_tools(&self, model: &str) {
        if let Some(facts) = self
            .model_facts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(model)
        {
            facts.tools = false;
        }
    }

    /// Streams the answer to `reply`; returns the visible text, how it ended and the
    /// tools the model called. `request_out` fires once a model server has a request.
    async fn stream_answer(
        &self,
        request: ChatRequest,
        reply: &Reply,
        lang: crate::lang::Lang,
        request_out: &mut Option<tokio::sync::oneshot::Sender<()>>,
    ) -> (String, Ending, Vec<ToolCall>) {
        let mut calls = Vec::new();
        let mut filter = (!self.config.show_thinking).then(ThinkFilter::new);
        let mut answer = String::new();
        let began = Instant::now();
        let mut first_piece: Option<std::time::Duration> = None;
        let deadline = began + self.config.first_token_timeout;
        let mut stream = match self
            .first_wait(self.deps.model.chat(request), deadline, reply, lang)
            .await
        {
            Ok(Ok(stream)) => {
                if let Some(out) = request_out.take() {
                    let _ = out.send(());
                }
                stream
            }
            Ok(Err(e)) => {
                crate::telemetry::error(crate::telemetry::model_error_kind(&e));
                return (answer, Ending::Failed(e), calls);
            }
            Err(ending) => {
                if let Ending::Failed(e) = &ending {
                    crate::telemetry::error(crate::telemetry::model_error_kind(e));
                }
                return (answer, ending, calls);
            }
        };
        let mut first = true;
        loop {
            let next = if first {
                self.first_wait(stream.next(), deadline, reply, lang).await
            } else {
                tokio::select! {
                    _ = self.cancel.cancelled() => Err(Ending::Cancelled),
                    next = tokio::time::timeout(self.config.idle_timeout, stream.next()) => {
                        next.map_err(|_| Ending::Failed(ModelError::Timeout(self.config.idle_timeout)))
                    }
                }
            };
            if first_piece.is_none() && matches!(next, Ok(Some(Ok(_)))) {
                first_piece = Some(began.elapsed());
            }
            let piece = match next {
                Ok(Some(Ok(ChatPiece::Text(piece)))) => piece,
                Ok(Some(Ok(ChatPiece::ToolCalls(more)))) => {
                    first = false;
                    calls.extend(more);
                    continue;
                }
                Ok(Some(Err(e))) => {
                    crate::telemetry::error(crate::telemetry::model_error_kind(&e));
                    return (answer, Ending::Failed(e), calls);
                }
                Ok(None) => break,
                Err(ending) => {
                    if let Ending::Failed(e) = &ending {
                        crate::telemetry::error(crate::telemetry::model_error_kind(e));
                    }
                    return (answer, ending, calls);
                }
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
        crate::telemetry::model_answer(first_piece, began.elapsed());
        (answer, Ending::Complete, calls)
    }

    /// Waits for `fut` until `deadline`, telling the user when the model seems to be loading.
    async fn first_wait<T>(
        &self,
        fut: impl Future<Output = T>,
        deadline: Instant,
        reply: &Reply,
        lang: crate::lang::Lang,
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
                    reply.send(ReplyEvent::Status(crate::lang::t(lang, "model-loading"))).await;
                }
            }
        }
    }
}
