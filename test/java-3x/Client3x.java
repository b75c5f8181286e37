import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.AppInfoParser;

/**
 * The older (3.x) Apache Kafka Java client against a broker, compiled and run with the jars of
 * test/tools/kafka-3/pom.xml.
 *
 *   Client3x produce bootstrap topic from count
 *     sends records key k<i> value v<i> for i in [from, from+count), idempotent, acks=all; prints
 *     "version <client version>" then one line "ack <key> <partition> <offset>" per acknowledged record.
 *   Client3x consume bootstrap topic group expected timeoutMs
 *     subscribes in consumer group `group` (the classic protocol, the only one 3.x has), polls until
 *     `expected` records arrived (or the timeout), commits synchronously and prints one line
 *     "record <key> <partition> <offset>" per record, then "committed"; exit 2 on timeout.
 */
public class Client3x {
  public static void main(String[] args) throws Exception {
    String mode = args[0];
    String bootstrap = args[1];
    String topic = args[2];
    System.out.println("version " + AppInfoParser.getVersion());
    if (mode.equals("produce")) {
      int from = Integer.parseInt(args[3]);
      int count = Integer.parseInt(args[4]);
      Properties props = new Properties();
      props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
      props.put(ProducerConfig.ACKS_CONFIG, "all");
      props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
      props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
      props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
      try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
        for (int i = from; i < from + count; i++) {
          RecordMetadata md = producer.send(new ProducerRecord<>(topic, "k" + i, "v" + i)).get();
          System.out.println("ack k" + i + " " + md.partition() + " " + md.offset());
        }
      }
      return;
    }
    String group = args[3];
    int expected = Integer.parseInt(args[4]);
    long deadline = System.currentTimeMillis() + Long.parseLong(args[5]);
    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    int seen = 0;
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
      consumer.subscribe(List.of(topic));
      while (seen < expected) {
        if (System.currentTimeMillis() > deadline) {
          System.out.println("timeout after " + seen + " records");
          System.exit(2);
        }
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
          System.out.println("record " + r.key() + " " + r.partition() + " " + r.offset());
          seen++;
        }
      }
      consumer.commitSync();
      System.out.println("committed");
    }
  }
}
