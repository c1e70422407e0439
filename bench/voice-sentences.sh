# The sentences of the voice benchmarks (sourced by run-voice-benchmark.sh and
# mixed-voice-notes.sh).

# Eleven requests of about 2 to 30 seconds as espeak-ng's default voice says them.
sentences=(
  "Please turn off the lights in the kitchen."
  "Remind me to buy milk tomorrow morning."
  "What is the weather going to be like this weekend in Seoul?"
  "Please add a dentist appointment on Friday at three in the afternoon to my calendar."
  "I need to send the quarterly report to my manager before the meeting on Monday, so remind me on Sunday evening."
  "Can you summarize the main points of the article I saved yesterday about electric cars and their batteries, and tell me which parts were new?"
  "My daughter has a piano lesson every Tuesday at five, and my son has football practice on Wednesdays and Fridays, so please help me plan the evening meals for this week around those times."
  "Write a short message to my landlord saying that the kitchen tap has been leaking for three days, that I would like someone to fix it this week, and that I am at home every morning before ten."
  "I am planning a trip to Busan next month with two friends. We want to visit the fish market, walk along the beach, and try some local food. Can you suggest a simple plan for three days and tell me how long the train from Seoul takes?"
  "Yesterday I went for a long walk in the park near my house. The leaves were turning red and yellow, and there were many families having picnics on the grass. I would like to remember this day, so please keep a short note about it, and remind me next year to go back at the same time."
  "This is a longer voice note, the kind people send when they are walking home and thinking out loud. First, I want to move my Thursday meeting with the design team to next week, because the drawings are not ready. Second, please look up a good recipe for a vegetable soup that I can cook in less than an hour. Third, remind me to call my grandmother on Saturday, and tell me if it is going to rain that day."
)

# Twenty more everyday requests, 1 to 20 seconds, for the mixed set.
more_sentences=(
  "Call my mother."
  "Cancel that, please."
  "What should I cook for dinner tonight?"
  "Add eggs, bread and butter to the shopping list."
  "Did my sister reply to the message about the birthday party?"
  "Remind me to take the bins out on Thursday night."
  "Please read me the notes from the team meeting this morning."
  "How long does it take to walk from the station to the museum?"
  "I think I left my umbrella at the office, remind me to bring it home tomorrow."
  "Tell me a short story about a cat who wants to become a chef."
  "My flight was delayed, so please move the dinner reservation to later in the evening and let my friends know."
  "Could you explain the difference between a savings account and a checking account in simple words?"
  "I have been feeling tired in the afternoons lately. Can you suggest a few small changes to my routine that might help?"
  "Note for the garden: the tomatoes need more water, the roses should be cut back in autumn, and the fence by the gate is loose."
  "When my brother visits next weekend, I want to take him to the mountains, but he does not like long hikes, so find an easy trail with a nice view."
  "Good morning. Before I forget, the plumber is coming on Monday, the car needs a service soon, and I promised to help my friend move a sofa on Saturday afternoon."
  "Please write a polite email to the school saying that my son will miss classes on Friday because of a family wedding, and ask whether there is any homework he should do."
  "Let me think out loud for a moment. The project is late because the supplier changed the parts, the budget is almost used up, and the client wants a demo before the holidays. What would you do first, and what can wait until January?"
  "Thanks, that was helpful."
  "Is the pharmacy on the corner open on Sunday?"
)
