import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads every partition of a topic from the beginning to its end offset by assignment (assign +
 * seekToBeginning, no consumer group) and prints one line per record:
 *   partition offset timestamp key value headers
 * with key and value as 0x-prefixed hex (or "null") and headers as name=0xhex joined by ','
 * ("-" when there are none). Exits 0 once every partition reached the end offset it had at start,
 * 2 on timeout, 1 on any client error (e.g. a corrupt batch).
 *
 * usage: AssignConsumer bootstrap topic [timeoutMs] [extra consumer props as key=value ...]
 */
public class AssignConsumer {
  private static String hex(byte[] b) {
    return b == null ? "null" : "0x" + HexFormat.of().formatHex(b);
  }

  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = args[1];
    long timeoutMs = args.length > 2 ? Long.parseLong(args[2]) : 60_000;
    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none");
    props.put(ConsumerConfig.CHECK_CRCS_CONFIG, "true");
    for (int i = 3; i < args.length; i++) {
      String[] kv = args[i].split("=", 2);
      props.put(kv[0], kv[1]);
    }
    long deadline = System.currentTimeMillis() + timeoutMs;
    StringBuilder out = new StringBuilder();
    try (KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> partitions = new ArrayList<>();
      for (PartitionInfo p : consumer.partitionsFor(topic, Duration.ofMillis(timeoutMs))) {
        partitions.add(new TopicPartition(topic, p.partition()));
      }
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      Map<TopicPartition, Long> end = consumer.endOffsets(partitions, Duration.ofMillis(timeoutMs));
      while (true) {
        boolean done = true;
        for (TopicPartition tp : partitions) {
          if (consumer.position(tp, Duration.ofMillis(timeoutMs)) < end.get(tp)) done = false;
        }
        if (done) break;
        if (System.currentTimeMillis() > deadline) {
          System.out.print(out);
          System.err.println("timed out; end offsets " + end);
          System.exit(2);
        }
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          if (r.offset() >= end.get(new TopicPartition(r.topic(), r.partition()))) continue;
          StringBuilder headers = new StringBuilder();
          for (Header h : r.headers()) {
            if (headers.length() > 0) headers.append(',');
            headers.append(h.key()).append('=').append(hex(h.value()));
          }
          out.append(r.partition()).append(' ').append(r.offset()).append(' ').append(r.timestamp())
              .append(' ').append(hex(r.key())).append(' ').append(hex(r.value()))
              .append(' ').append(headers.length() == 0 ? "-" : headers).append('\n');
        }
      }
      System.err.println("end offsets " + end);
    }
    System.out.print(out);
    System.out.flush();
  }
}
