// Makes `dead_letter: kafka://HOST:PORT[,HOST:PORT...]/TOPIC` send a job's dead letters
// to a Kafka topic (see dead_letter_topic.cc).
#pragma once

namespace sluice::operators::kafka {

void RegisterDeadLetterTopic();

}  // namespace sluice::operators::kafka
