import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ALERT_EVENT_TYPES } from '@tidings/webhooks';
import { IsString, Length, MaxLength } from 'class-validator';
import { IfPresent, Nullable } from '../http/optional.validator';
import { MAX_DESCRIPTION, WebhookDto } from '../webhooks/webhooks.dto';

export class PutAlertEndpointDto {
  @ApiProperty({
    maxLength: 2048,
    example: 'https://ops.example.com/tidings-alerts',
    description: 'Same rules as a subscription URL: https, public addresses only',
  })
  @IsString()
  @MaxLength(2048)
  url!: string;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: MAX_DESCRIPTION })
  @Nullable()
  @IsString()
  @MaxLength(MAX_DESCRIPTION)
  description?: string | null;
}

export class AlertTestDto {
  @ApiPropertyOptional({ maxLength: 500 })
  @IfPresent()
  @IsString()
  @Length(1, 500)
  message?: string;
}

export class AlertEndpointDto extends WebhookDto {
  @ApiProperty({ type: [String], example: [...ALERT_EVENT_TYPES] })
  declare eventTypes: string[];
}

export class PutAlertEndpointResultDto extends AlertEndpointDto {
  @ApiPropertyOptional({ description: 'The signing secret: only in the response that created the endpoint' })
  secret?: string;
}
