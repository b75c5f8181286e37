import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Produces `count` keyed records (key "key-<i % 37>", value "value-<i>", header seq=<i>) with
 * acks=all and idempotence on (the Java client's defaults, set explicitly), and prints one line
 * per acknowledged record, in send order: "i partition offset".
 *
 * usage: KeyedProducer bootstrap topic count [extra producer props as key=value ...]
 */
public class KeyedProducer {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = args[1];
    int count = Integer.parseInt(args[2]);
    Properties props = new Properties();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ProducerConfig.ACKS_CONFIG, "all");
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    props.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "60000");
    for (int i = 3; i < args.length; i++) {
      String[] kv = args[i].split("=", 2);
      props.put(kv[0], kv[1]);
    }
    List<Future<RecordMetadata>> acks = new ArrayList<>();
    try (KafkaProducer<byte[], byte[]> producer =
        new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
      for (int i = 0; i < count; i++) {
        ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(topic,
            ("key-" + (i % 37)).getBytes(StandardCharsets.UTF_8),
            ("value-" + i).getBytes(StandardCharsets.UTF_8));
        record.headers().add("seq", String.valueOf(i).getBytes(StandardCharsets.UTF_8));
        acks.add(producer.send(record));
      }
      producer.flush();
      StringBuilder out = new StringBuilder();
      for (int i = 0; i < count; i++) {
        RecordMetadata m = acks.get(i).get();
        out.append(i).append(' ').append(m.partition()).append(' ').append(m.offset()).append('\n');
      }
      System.out.print(out);
    }
  }
}
