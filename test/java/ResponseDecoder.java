import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.apache.kafka.common.message.FetchResponseData;
import org.apache.kafka.common.message.ProduceResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.record.internal.Records;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.FetchResponse;
import org.apache.kafka.common.requests.ProduceResponse;
import org.apache.kafka.common.requests.RequestHeader;

/**
 * Decodes Produce and Fetch response frames with the Apache Kafka Java client's own parser
 * (AbstractResponse.parseResponse: response header and body at the request's version), an
 * independent check of what a broker answers at each version.
 *
 * stdin: one response per line, "apiKey version correlationId hex", the hex being the frame
 * after its int32 size (response header + body). stdout: one line per response,
 *   ok <remaining bytes> <partition>:<error>:<offset>:<records>[,...]
 * where offset is the base offset (Produce) or the high watermark (Fetch) and records the number
 * of records in CRC-checked batches (Fetch; 0 for Produce), or
 *   error <exception class>: <message>
 */
public class ResponseDecoder {
  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) continue;
      String[] f = line.trim().split(" ");
      ApiKeys api = ApiKeys.forId(Short.parseShort(f[0]));
      short version = Short.parseShort(f[1]);
      int correlationId = Integer.parseInt(f[2]);
      ByteBuffer frame = ByteBuffer.wrap(HexFormat.of().parseHex(f[3]));
      try {
        AbstractResponse response = AbstractResponse.parseResponse(frame, new RequestHeader(api, version, "decoder", correlationId));
        List<String> parts = new ArrayList<>();
        if (response instanceof FetchResponse fetch) {
          for (FetchResponseData.FetchableTopicResponse t : fetch.data().responses()) {
            for (FetchResponseData.PartitionData p : t.partitions()) {
              int records = 0;
              Records recs = (Records) p.records();
              if (recs != null) {
                for (RecordBatch b : recs.batches()) {
                  b.ensureValid();
                  for (var r : b) records++;
                }
              }
              parts.add(p.partitionIndex() + ":" + p.errorCode() + ":" + p.highWatermark() + ":" + records);
            }
          }
        } else if (response instanceof ProduceResponse produce) {
          for (ProduceResponseData.TopicProduceResponse t : produce.data().responses()) {
            for (ProduceResponseData.PartitionProduceResponse p : t.partitionResponses()) {
              parts.add(p.index() + ":" + p.errorCode() + ":" + p.baseOffset() + ":0");
            }
          }
        } else {
          throw new IllegalArgumentException("not a Produce or Fetch response: " + api);
        }
        System.out.println("ok " + frame.remaining() + " " + String.join(",", parts));
      } catch (Exception e) {
        System.out.println("error " + e.getClass().getSimpleName() + ": " + String.valueOf(e.getMessage()).replace('\n', ' '));
      }
    }
  }
}
