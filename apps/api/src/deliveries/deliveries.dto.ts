import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { DeliveryStatus } from '@tidings/db';
import { IsIn } from 'class-validator';
import { IsEventTypePattern, PageQueryDto } from '../webhooks/webhooks.dto';
import { IfPresent } from '../http/optional.validator';
import { IsTimestamp } from '../http/timestamp.validator';

export const DELIVERY_STATUSES: DeliveryStatus[] = ['pending', 'failed', 'succeeded', 'dead'];

export class DeliveriesQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: DELIVERY_STATUSES })
  @IfPresent()
  @IsIn(DELIVERY_STATUSES)
  status?: DeliveryStatus;

  @ApiPropertyOptional({ description: 'Exact type, prefix wildcard (order.*) or *', example: 'order.*' })
  @IfPresent()
  @IsEventTypePattern()
  eventType?: string;
}

export class RecoverDto {
  @ApiProperty({
    description: 'Re-deliver every delivery of this subscription that failed or died since this time',
  })
  @IsTimestamp()
  since!: string;
}

export class DeliveryDto {
  @ApiProperty({ example: 'dlv_0193a4e2-7b1c-7d4e-8f00-123456789abc' })
  id!: string;
  @ApiProperty()
  subscriptionId!: string;
  @ApiProperty({ format: 'uuid', description: 'The event (also the webhook-id header)' })
  eventId!: string;
  @ApiProperty({ example: 'order.created' })
  eventType!: string;
  @ApiProperty({ description: "The event's position in the tenant's order" })
  eventPosition!: number;
  @ApiProperty()
  resourceId!: string;
  @ApiProperty()
  sequence!: number;
  @ApiProperty({
    enum: DELIVERY_STATUSES,
    description: '`failed` = waiting for its next attempt; `dead` = exhausted its schedule (dead letter)',
  })
  status!: DeliveryStatus;
  @ApiProperty()
  attemptCount!: number;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  nextAttemptAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastAttemptAt!: string | null;
  @ApiProperty({ type: Number, nullable: true })
  lastStatusCode!: number | null;
  @ApiProperty({ type: String, nullable: true })
  lastError!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  deadAt!: string | null;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
}

export class AttemptDto {
  @ApiProperty()
  attemptNumber!: number;
  @ApiProperty({ format: 'date-time' })
  attemptedAt!: string;
  @ApiProperty({ type: Number, nullable: true, description: 'null when no response (timeout, refused, …)' })
  statusCode!: number | null;
  @ApiProperty()
  durationMs!: number;
  @ApiProperty({ type: String, nullable: true, description: 'The start of the response body (truncated)' })
  responseBody!: string | null;
  @ApiProperty({ type: String, nullable: true })
  error!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When it was rescheduled' })
  nextAttemptAt!: string | null;
}

export class DeliveryDetailDto extends DeliveryDto {
  @ApiProperty({ type: [AttemptDto] })
  attempts!: AttemptDto[];
}

export class DeliveryPageDto {
  @ApiProperty({ type: [DeliveryDto] })
  data!: DeliveryDto[];
  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` for the next page' })
  nextCursor!: string | null;
}

export class CountDto {
  @ApiProperty({ description: 'Deliveries scheduled again (or that would be, for a dry run)' })
  count!: number;
}
