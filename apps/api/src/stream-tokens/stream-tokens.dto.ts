import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsInt, Max, Min } from 'class-validator';
import { IfPresent } from '../http/optional.validator';
import { IsEventTypePattern } from '../webhooks/webhooks.dto';

// Up to 30 days: long-lived dashboards; default one hour for a browser session.
export const MAX_STREAM_TOKEN_TTL_SECONDS = 30 * 24 * 3600;

export class CreateStreamTokenDto {
  @ApiPropertyOptional({
    example: ['order.*'],
    description: 'Event-type patterns the token may stream (default: all)',
  })
  @IfPresent()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @IsEventTypePattern({ each: true })
  eventTypes?: string[];

  @ApiPropertyOptional({ example: 3600, minimum: 60, maximum: MAX_STREAM_TOKEN_TTL_SECONDS })
  @IfPresent()
  @IsInt()
  @Min(60)
  @Max(MAX_STREAM_TOKEN_TTL_SECONDS)
  ttlSeconds?: number;
}

/** Response of stream-token creation (documentation). */
export class StreamTokenDto {
  @ApiProperty({ example: 'stk_AbCdEfGhIjKl' })
  id!: string;
  @ApiProperty({ description: 'Pass as `access_token` to GET /events/stream. Shown once, never stored.' })
  token!: string;
  @ApiProperty({ type: [String], example: ['order.*'] })
  eventTypes!: string[];
  @ApiProperty({ format: 'date-time' })
  expiresAt!: string;
}
